/**
 * Values computed once per object and key, and forgotten with the object
 * (a WeakMap): for work that every holder of the same object would repeat.
 */
export class PerObjectMemo<T> {
  private readonly values = new WeakMap<object, Map<string, T>>();

  /** The value for this object and key, computed by `compute` the first time only. */
  get(object: object, key: string, compute: () => T): T {
    let byKey = this.values.get(object);
    if (!byKey) {
      byKey = new Map();
      this.values.set(object, byKey);
    }
    let value = byKey.get(key);
    if (value === undefined) {
      value = compute();
      byKey.set(key, value);
    }
    return value;
  }
}
