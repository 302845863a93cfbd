/** @internal The package's version, for the default meter (a test keeps it equal to package.json's). */
export const PACKAGE_VERSION = '0.1.0';
