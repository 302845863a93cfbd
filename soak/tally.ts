/** A deterministic random source in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Durations in ms, kept in a fixed-size reservoir (Vitter's algorithm R), so
 * that memory stays bounded however long the run: percentiles are estimated
 * from a uniform sample of every value recorded.
 */
export class Durations {
  private readonly sample: Float64Array;
  private kept = 0;
  count = 0;
  max = 0;

  constructor(
    private readonly random: () => number,
    size = 20_000,
  ) {
    this.sample = new Float64Array(size);
  }

  add(value: number): void {
    this.count++;
    if (value > this.max) this.max = value;
    if (this.kept < this.sample.length) {
      this.sample[this.kept++] = value;
      return;
    }
    const slot = Math.floor(this.random() * this.count);
    if (slot < this.sample.length) this.sample[slot] = value;
  }

  percentile(p: number): number {
    if (this.kept === 0) return 0;
    const sorted = this.sample.slice(0, this.kept).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  describe(): string {
    if (this.count === 0) return 'none';
    const f = (n: number) => n.toFixed(1);
    return `p50 ${f(this.percentile(50))} ms, p99 ${f(this.percentile(99))} ms, max ${f(this.max)} ms (n=${this.count})`;
  }
}

/** Counts by key, printed sorted. */
export class Counts {
  private readonly map = new Map<string, number>();

  add(key: string, n = 1): void {
    this.map.set(key, (this.map.get(key) ?? 0) + n);
  }

  get(key: string): number {
    return this.map.get(key) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.map.values()) sum += n;
    return sum;
  }

  describe(): string {
    if (this.map.size === 0) return 'none';
    return [...this.map.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
  }
}

/** The resources Node reports as keeping the process alive, as a multiset string for comparison. */
export function resourceSet(): string {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return [...counts.entries()]
    .sort()
    .map(([type, n]) => `${type}x${n}`)
    .join(' ');
}
