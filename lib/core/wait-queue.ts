/** A node of a {@link WaitQueue}: the queue links its entries through these fields. */
export interface QueueNode<T extends QueueNode<T>> {
  prev: T | undefined;
  next: T | undefined;
  queued: boolean;
}

/**
 * FIFO queue with O(1) push, shift, unshift and removal from anywhere. The
 * links live in the entries themselves, so queueing allocates nothing, and a
 * waiter that times out leaves at once, however long the queue.
 */
export class WaitQueue<T extends QueueNode<T>> {
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

  /** Puts a node back at the front (a waiter that keeps its turn). */
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
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = undefined;
    node.queued = false;
    this.count--;
  }
}
