/** The JSON of an admission request's objects, and what the matchers read of it. */

export type Obj = Record<string, unknown>;

export const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const metadataOf = (o: Obj | null): Obj => (o && isObject(o.metadata) ? o.metadata : {});
export const labelsOf = (o: Obj | null): Record<string, string> => {
  const labels = metadataOf(o).labels;
  return isObject(labels) ? (labels as Record<string, string>) : {};
};
export const isNamespacesResource = (r: { group: string; resource: string }) => r.group === '' && r.resource === 'namespaces';
