/**
 * One timer per request for every wait that has a deadline: the KeyState call, then the
 * origin's answer. A timer costs CPU to set and to clear on every request (bench/README.md,
 * "Where the time goes"), so a request's waits share one: it is armed for the earliest
 * deadline and, should it fire while a later wait is still running, re-armed for what is
 * left of that wait. On the hot path that is one `setTimeout` and one `clearTimeout`.
 */
export class Deadline {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** when the armed timer fires */
  private armedFor = Infinity;
  private waiting: { due: number; expire: () => void } | null = null;

  /** `work`, or `timedOut()` thrown if it has not settled `ms` from now. One wait at a time. */
  race<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
    const due = Date.now() + ms;
    return new Promise<T>((resolve, reject) => {
      const wait = { due, expire: () => reject(timedOut()) };
      this.waiting = wait;
      if (due < this.armedFor) this.arm(due);
      work.then(
        (value) => {
          if (this.waiting === wait) this.waiting = null;
          resolve(value);
        },
        (err: unknown) => {
          if (this.waiting === wait) this.waiting = null;
          reject(err);
        },
      );
    });
  }

  /** Called when the request is done with its waits. */
  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
  }

  private arm(due: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedFor = due;
    this.timer = setTimeout(this.fire, Math.max(0, due - Date.now()));
  }

  private readonly fire = () => {
    this.timer = null;
    this.armedFor = Infinity;
    const wait = this.waiting;
    if (!wait) return;
    if (Date.now() >= wait.due) {
      this.waiting = null;
      wait.expire();
    } else {
      this.arm(wait.due);
    }
  };
}
