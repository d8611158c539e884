/** The request as the ValidatingAdmissionPolicy plugin's matchers see it. */
import type { AdmissionRequest } from '../admission-hook.js';
import { isNamespacesResource, metadataOf, type Obj } from './objects.js';

/** admission.Attributes: what the matchers read. */
export interface Attributes {
  operation: AdmissionRequest['operation'];
  resource: { group: string; version: string; resource: string };
  subResource: string;
  kind: { group: string; version: string; kind: string };
  /** attr.GetName(): on CREATE, the object's name (empty while only generateName is set). */
  name: string;
  /**
   * attr.GetNamespace(): a namespaced object's namespace; for the UPDATE or DELETE of a Namespace its own name
   * (the API server reads it from /api/v1/namespaces/<name>), filled in here when the request leaves it out.
   */
  namespace: string;
  object: Obj | null;
  oldObject: Obj | null;
  /** The stored Namespace the request's namespace names, as the matchers' namespace lister returns it. */
  namespaceObject: Obj | null;
  userInfo: AdmissionRequest['userInfo'];
  dryRun: boolean;
}

export function attributesOf(request: AdmissionRequest): Attributes {
  const resource = { group: request.group, version: request.version, resource: request.resource };
  const objectName = metadataOf(request.object).name;
  const name = request.name || (request.operation === 'CREATE' && typeof objectName === 'string' ? objectName : '');
  let namespace = request.namespace ?? '';
  if (namespace === '' && isNamespacesResource(resource) && request.operation !== 'CREATE') namespace = name;
  return {
    operation: request.operation,
    resource,
    subResource: request.subResource ?? '',
    kind: request.kind,
    name,
    namespace,
    object: request.object,
    oldObject: request.oldObject,
    namespaceObject: request.namespaceObject,
    userInfo: request.userInfo,
    dryRun: request.dryRun,
  };
}
