// The public surface, chosen by hand. The core is framework-free; the Nest layer
// lives beside it, and the Terminus health indicator on its own subpath.
export * from './core/index.js';
