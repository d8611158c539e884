/** A field read as a list, whatever it holds. */
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const count = (v: unknown) => list(v).length;
