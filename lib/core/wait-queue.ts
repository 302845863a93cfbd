import type { AnyFrame } from './types.js';
import type { Pending } from './pending.js';

/**
 * FIFO queue of pendings with O(1) push, shift, unshift and removal from
 * anywhere. The links live in the pendings themselves, so queueing allocates
 * nothing, and one that times out leaves at once, however long the queue.
 */
export class WaitQueue<T extends Pending<AnyFrame>> {
  private head: T | undefined;
  private tail: T | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get first(): T | undefined {
    return this.head;
  }

  push(node: T): void {
    node.prev = this.tail;
    node.next = undefined;
    node.queued = true;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
    this.count++;
  }

  /** Puts a node back at the front (one that keeps its turn). */
  unshift(node: T): void {
    node.prev = undefined;
    node.next = this.head;
    node.queued = true;
    if (this.head === undefined) this.tail = node;
    else this.head.prev = node;
    this.head = node;
    this.count++;
  }

  shift(): T | undefined {
    const node = this.head;
    if (node !== undefined) this.remove(node);
    return node;
  }

  remove(node: T): void {
    if (!node.queued) return;
    const prev = node.prev as T | undefined;
    const next = node.next as T | undefined;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    node.prev = node.next = undefined;
    node.queued = false;
    this.count--;
  }
}
