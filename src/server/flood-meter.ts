/** Counts refused frames in a sliding pair of back-to-back windows; past the threshold the client is flooding. */
export class FloodMeter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private count = 0;
  private previous = 0;

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  /** Records a refusal (a clock gone back moves the current window's start back to it); true when the connection should be closed with 4029. */
  reject(now: number): boolean {
    if (now < this.windowStart) this.windowStart = now;
    const elapsed = now - this.windowStart;
    if (elapsed >= 2 * this.windowMs) {
      this.previous = 0;
      this.windowStart = now;
      this.count = 0;
    } else if (elapsed >= this.windowMs) {
      this.previous = this.count;
      this.windowStart += this.windowMs;
      this.count = 0;
    }
    this.count += 1;
    const weight = Math.max(0, 1 - (now - this.windowStart) / this.windowMs);
    return this.count + this.previous * weight > this.threshold;
  }

  /** True once nothing it counted weighs any more. */
  quiet(now: number): boolean {
    return now - this.windowStart >= 2 * this.windowMs;
  }
}
