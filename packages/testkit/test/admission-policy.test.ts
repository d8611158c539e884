import { describe, expect, it } from '@jest/globals';
import { admitWithPolicies, type AdmissionRequest } from '../src/fake-kubernetes/admission-policy.js';

// The evaluator against what kubernetes/kubernetes' ValidatingAdmissionPolicy plugin does (dispatcher.go,
// validator.go, matching.go, the webhook predicates), and the CEL features the policies of deploy/kubernetes rely
// on, proved on @bufbuild/cel through the evaluator itself.

type Obj = Record<string, unknown>;

const ADMIN = { username: 'kubernetes-admin', uid: 'u-1', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };

function policy(name: string, spec: Obj): Obj {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: { matchConstraints: { resourceRules: [DEPLOYMENTS] }, ...spec },
  };
}
function binding(name: string, policyName: string, spec: Obj = {}): Obj {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: { policyName, validationActions: ['Deny'], ...spec },
  };
}
const DEPLOYMENTS = { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] };

const NS_DEMO = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo', labels: { 'kubernetes.io/metadata.name': 'demo', environment: 'test' } } };
function deployment(name: string, spec: Obj = {}, labels: Record<string, string> = {}): Obj {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'demo', labels }, spec: { replicas: 3, ...spec } };
}
function createDeployment(object: Obj, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    operation: 'CREATE',
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    name: String((object.metadata as Obj).name ?? ''),
    namespace: 'demo',
    object,
    oldObject: null,
    namespaceObject: NS_DEMO,
    userInfo: ADMIN,
    dryRun: false,
    ...extra,
  };
}

/** One policy with one validation, bound once: undefined when `expression` holds for the request. */
function check(expression: string, request: AdmissionRequest = createDeployment(deployment('web')), more: Obj = {}) {
  return admitWithPolicies(request, { policies: [policy('p', { validations: [{ expression, message: 'm' }], ...more })], bindings: [binding('b', 'p')] });
}
const holds = (expression: string, request?: AdmissionRequest) => expect(check(expression, request)).toBeUndefined();
const fails = (expression: string, request?: AdmissionRequest) =>
  expect(check(expression, request)?.message).toBe(`deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: m`);
const errors = (expression: string, error: string, request?: AdmissionRequest) =>
  expect(check(expression, request)?.message).toBe(`deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression '${expression}' resulted in error: ${error}`);

describe('CEL as the policies use it (@bufbuild/cel)', () => {
  it('has() on fields present, absent, and on objects without labels', () => {
    holds('has(object.metadata.labels)');
    holds('!has(object.metadata.annotations)');
    holds('has(object.spec.replicas) && !has(object.spec.paused)');
  });

  it('the macros all, exists, exists_one, map and filter', () => {
    const d = deployment('web', { template: { spec: { containers: [{ name: 'a', image: 'x:1' }, { name: 'b', image: 'y:2' }] } } });
    holds(`object.spec.template.spec.containers.all(c, c.image.contains(':'))`, createDeployment(d));
    holds(`object.spec.template.spec.containers.exists(c, c.name == 'b')`, createDeployment(d));
    holds(`object.spec.template.spec.containers.exists_one(c, c.name.startsWith('a'))`, createDeployment(d));
    holds(`object.spec.template.spec.containers.map(c, c.name) == ['a', 'b']`, createDeployment(d));
    holds(`object.spec.template.spec.containers.filter(c, c.image.endsWith(':2')).size() == 1`, createDeployment(d));
    fails(`object.spec.template.spec.containers.all(c, c.name == 'a')`, createDeployment(d));
    holds(`{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])`);
  });

  it('matches() is RE2: anchors as written, RE2 flags, no lookaround or backreferences', () => {
    holds(`object.metadata.name.matches('^we')`);
    holds(`!object.metadata.name.matches('^eb')`);
    holds(`object.metadata.name.matches('(?i)^WEB$')`);
    holds(`'pr-1-x-0123456789'.matches('^pr-[1-9][0-9]*-[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{10}$')`);
    holds(`!'pr-01-x-0123456789'.matches('^pr-[1-9][0-9]*-[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{10}$')`);
    // RE2 refuses lookahead: an error, which failurePolicy Fail turns into a denial.
    errors(`object.metadata.name.matches('w(?=e)')`, 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`');
  });

  it('startsWith, endsWith, contains, size on strings, lists and maps', () => {
    holds(`object.metadata.name.startsWith('w') && object.metadata.name.endsWith('b') && object.metadata.name.contains('e')`);
    holds(`size(object.metadata.name) == 3 && object.metadata.name.size() == 3`);
    holds(`size([1, 2]) == 2 && size({'a': 1}) == 1 && size(object.metadata.labels) == 1`, createDeployment(deployment('web', {}, { app: 'web' })));
  });

  it('in on maps (keys) and lists; map indexing with string keys, dots and slashes included', () => {
    const d = createDeployment(deployment('web', {}, { 'app.kubernetes.io/name': 'web' }));
    holds(`'app.kubernetes.io/name' in object.metadata.labels`, d);
    holds(`!('app' in object.metadata.labels)`, d);
    holds(`object.metadata.labels['app.kubernetes.io/name'] == 'web'`, d);
    holds(`'b' in ['a', 'b'] && !('c' in ['a', 'b'])`, d);
    // Indexing a missing key is an error, cel-go's "no such key".
    errors(`object.metadata.labels['app'] == 'web'`, 'no such key: app', d);
    errors(`object.spec.nope == 1`, 'no such key: nope');
  });

  it('null: oldObject on CREATE, object on DELETE, comparisons with null', () => {
    holds(`oldObject == null && object != null`);
    const del = createDeployment(deployment('web'), { operation: 'DELETE', object: null, oldObject: deployment('web') });
    holds(`object == null && oldObject != null && oldObject.metadata.name == 'web'`, { ...del, name: 'web' });
  });

  it('whole numbers are int (int64), as Kubernetes\' types declare them', () => {
    holds(`object.spec.replicas == 3 && object.spec.replicas * 2 == 6 && object.spec.replicas < 5`);
    holds(`type(object.spec.replicas) == int`);
  });

  it('&& and || absorb an error when the other side decides', () => {
    holds(`true || object.spec.nope == 1`);
    holds(`object.spec.nope == 1 || true`);
    fails(`false && object.spec.nope == 1`);
    fails(`object.spec.nope == 1 && false`);
  });

  it('the strings extension Kubernetes has: lowerAscii, split, join', () => {
    holds(`'WeB'.lowerAscii() == 'web' && 'a,b'.split(',') == ['a', 'b'] && ['a', 'b'].join('-') == 'a-b'`);
  });

  it('refuses, loudly, what it does not implement or the API server would not store', () => {
    const admit = (expression: string, more: Obj = {}) => () => check(expression, undefined, more);
    expect(admit(`quantity('1Gi').isGreaterThan(quantity('1Mi'))`)).toThrow(/function 'quantity' is not supported by this evaluator/);
    expect(admit(`[1, 2].isSorted()`)).toThrow(/function 'isSorted' is not supported/);
    expect(admit(`url('https://x').getHost() == 'x'`)).toThrow(/function 'url' is not supported/);
    expect(admit(`authorizer.group('').resource('pods').check('get').allowed()`)).toThrow(/'authorizer' is not supported/);
    expect(admit(`params.x == 1`)).toThrow(/'params'.*not supported/);
    expect(admit(`nothing == 1`)).toThrow(/undeclared reference to 'nothing'/);
    expect(admit(`object.metadata.name ==`)).toThrow(/spec\.validations\[0\]\.expression: compilation error/);
    expect(admit(`variables.later == 1`)).toThrow(/undefined field 'later'/);
    expect(admit('true', { paramKind: { apiVersion: 'v1', kind: 'ConfigMap' } })).toThrow(/spec\.paramKind: policies with params are not supported/);
    expect(admit('true', { failurePolicy: 'Sometimes' })).toThrow(/failurePolicy: Unsupported value/);
    expect(() => admitWithPolicies(createDeployment(deployment('web')), { policies: [policy('p', { validations: [{ expression: 'true', reason: 'Teapot' }] })], bindings: [binding('b', 'p')] })).toThrow(
      /reason: Unsupported value: "Teapot"/,
    );
    expect(() => admitWithPolicies(createDeployment(deployment('web')), { policies: [policy('p', { validations: [] })], bindings: [binding('b', 'p')] })).toThrow(/validations or auditAnnotations must contain at least one item/);
    expect(() => admitWithPolicies(createDeployment(deployment('web')), { policies: [], bindings: [binding('b', 'p', { validationActions: ['Deny', 'Warn'] })] })).toThrow(/must not contain both Deny and Warn/);
    expect(() => admitWithPolicies(createDeployment(deployment('web')), { policies: [], bindings: [binding('b', 'p', { paramRef: { name: 'x' } })] })).toThrow(/paramRef: bindings with params are not supported/);
    expect(() =>
      admitWithPolicies(createDeployment(deployment('web')), {
        policies: [policy('p', { matchConstraints: { resourceRules: [{ ...DEPLOYMENTS, resources: ['*/*', 'pods'] }] }, validations: [{ expression: 'true' }] })],
        bindings: [binding('b', 'p')],
      }),
    ).toThrow(/if '\*\/\*' is present, must not specify other resources/);
  });
});

describe('decisions and the Status the API returns (dispatcher.go, validator.go)', () => {
  const demo = policy('demo-policy.example.com', { validations: [{ expression: 'object.spec.replicas <= 5' }] });
  const demoBinding = binding('demo-binding-test.example.com', 'demo-policy.example.com');

  it('a failed validation without message: "failed expression", Invalid, 422, as admission.NewForbidden words it', () => {
    expect(admitWithPolicies(createDeployment(deployment('nginx', { replicas: 6 })), { policies: [demo], bindings: [demoBinding] })).toEqual({
      code: 422,
      reason: 'Invalid',
      message: `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5`,
    });
    expect(admitWithPolicies(createDeployment(deployment('nginx', { replicas: 5 })), { policies: [demo], bindings: [demoBinding] })).toBeUndefined();
  });

  it('each reason its code', () => {
    const codes: Record<string, number> = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413, Invalid: 422 };
    for (const [reason, code] of Object.entries(codes)) {
      const p = policy('p', { validations: [{ expression: 'false', message: 'no', reason }] });
      expect(admitWithPolicies(createDeployment(deployment('web')), { policies: [p], bindings: [binding('b', 'p')] })).toEqual({
        code,
        reason,
        message: `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no`,
      });
    }
  });

  it('the message: messageExpression, else message, else the expression; trimmed, one line, a string', () => {
    const deny = (validation: Obj) =>
      admitWithPolicies(createDeployment(deployment('web')), { policies: [policy('p', { validations: [{ expression: 'false', ...validation }] })], bindings: [binding('b', 'p')] })?.message.split(
        'denied request: ',
      )[1];
    expect(deny({ messageExpression: `'too many: ' + string(object.spec.replicas)`, message: 'static' })).toBe('too many: 3');
    expect(deny({ messageExpression: `'  padded  '` })).toBe('padded');
    expect(deny({ messageExpression: `'two\\nlines'`, message: 'static' })).toBe('static');
    expect(deny({ messageExpression: `'   '`, message: ' static ' })).toBe('static');
    expect(deny({ messageExpression: `object.spec.nope`, message: 'static' })).toBe('static');
    // Not a string: the message instead.
    expect(deny({ messageExpression: 'object.spec.replicas', message: 'static' })).toBe('static');
    expect(deny({ messageExpression: `object.metadata.name + '${'x'.repeat(5 * 1024)}'`, message: 'static' })).toBe('static');
    expect(deny({})).toBe('failed expression: false');
    expect(deny({ expression: '  1 == 2  ' })).toBe('failed expression: 1 == 2');
    // A result that is not true (a string here) denies too.
    expect(deny({ expression: `object.metadata.name`, message: 'not a bool' })).toBe('not a bool');
  });

  it('the first refusal is the one reported: validations in order, then bindings, then policies', () => {
    const p = policy('p', { validations: [{ expression: 'true' }, { expression: 'false', message: 'second' }, { expression: 'false', message: 'third' }] });
    const q = policy('q', { validations: [{ expression: 'false', message: 'q' }] });
    const result = admitWithPolicies(createDeployment(deployment('web')), { policies: [p, q], bindings: [binding('b1', 'p'), binding('b2', 'p'), binding('c', 'q')] });
    expect(result?.message).toBe(`deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b1' denied request: second`);
  });

  it('an evaluation error: failurePolicy Fail (the default) denies with the error, Ignore admits', () => {
    const error = `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.spec.paused == false' resulted in error: no such key: paused`;
    expect(check('object.spec.paused == false')).toEqual({ code: 422, reason: 'Invalid', message: error });
    expect(check('object.spec.paused == false', undefined, { failurePolicy: 'Fail' })?.message).toBe(error);
    expect(check('object.spec.paused == false', undefined, { failurePolicy: 'Ignore' })).toBeUndefined();
  });

  it('validationActions: only Deny denies; Warn and Audit let the request through', () => {
    const p = policy('p', { validations: [{ expression: 'false' }] });
    const run = (validationActions: string[]) => admitWithPolicies(createDeployment(deployment('web')), { policies: [p], bindings: [binding('b', 'p', { validationActions })] });
    expect(run(['Deny'])?.code).toBe(422);
    expect(run(['Deny', 'Audit'])?.code).toBe(422);
    expect(run(['Warn'])).toBeUndefined();
    expect(run(['Audit'])).toBeUndefined();
    expect(run(['Warn', 'Audit'])).toBeUndefined();
  });

  it('a binding applies to the policy it names; a policy without a binding applies to nothing', () => {
    const p = policy('p', { validations: [{ expression: 'false' }] });
    expect(admitWithPolicies(createDeployment(deployment('web')), { policies: [p], bindings: [] })).toBeUndefined();
    expect(admitWithPolicies(createDeployment(deployment('web')), { policies: [p], bindings: [binding('b', 'other')] })).toBeUndefined();
    expect(admitWithPolicies(createDeployment(deployment('web')), { policies: [p], bindings: [binding('b', 'other'), binding('b2', 'p')] })?.message).toContain(`with binding 'b2'`);
  });

  it('an audit annotation that fails denies under failurePolicy Fail, whatever the validation actions', () => {
    const p = (failurePolicy: string) => policy('p', { failurePolicy, auditAnnotations: [{ key: 'k', valueExpression: 'object.spec.nope' }] });
    expect(admitWithPolicies(createDeployment(deployment('web')), { policies: [p('Fail')], bindings: [binding('b', 'p', { validationActions: ['Audit'] })] })?.message).toBe(
      `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.spec.nope' resulted in error: no such key: nope`,
    );
    expect(admitWithPolicies(createDeployment(deployment('web')), { policies: [p('Ignore')], bindings: [binding('b', 'p')] })).toBeUndefined();
  });

  it('names the object as the API server does: its name, its generateName, or Unknown; core resources without a group', () => {
    const generated = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { generateName: 'web-', namespace: 'demo' }, spec: {} };
    expect(check('false', createDeployment(generated, { name: '' }))?.message).toMatch(/^deployments\.apps "web-" is forbidden: /);
    expect(check('false', createDeployment({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace: 'demo' }, spec: {} }, { name: '' }))?.message).toMatch(/^deployments\.apps "Unknown" is forbidden: /);
    const pods = policy('p', { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['pods'] }] }, validations: [{ expression: 'false', message: 'm' }] });
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p-1', namespace: 'demo' } };
    expect(
      admitWithPolicies({ ...createDeployment(pod), group: '', resource: 'pods', kind: { group: '', version: 'v1', kind: 'Pod' } }, { policies: [pods], bindings: [binding('b', 'p')] })?.message,
    ).toBe(`pods "p-1" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: m`);
  });

  it('a namespaced request whose namespace cannot be read: NotFound, as the dispatcher returns it', () => {
    expect(check('true', createDeployment(deployment('web'), { namespaceObject: null }))).toEqual({ code: 404, reason: 'NotFound', message: 'namespaces "demo" not found' });
  });
});

describe('matchConditions and variables', () => {
  const run = (spec: Obj, request = createDeployment(deployment('web'))) => admitWithPolicies(request, { policies: [policy('p', spec)], bindings: [binding('b', 'p')] });
  const deny = { validations: [{ expression: 'false', message: 'denied' }] };

  it('all conditions true: evaluated; any false: skipped, even past an error', () => {
    expect(run({ ...deny, matchConditions: [{ name: 'a', expression: 'true' }, { name: 'b', expression: `request.userInfo.username == 'kubernetes-admin'` }] })?.message).toContain('denied');
    expect(run({ ...deny, matchConditions: [{ name: 'a', expression: 'true' }, { name: 'b', expression: 'false' }] })).toBeUndefined();
    expect(run({ ...deny, matchConditions: [{ name: 'a', expression: 'object.spec.nope' }, { name: 'b', expression: 'false' }] })).toBeUndefined();
  });

  it('a condition in error (and none false) follows failurePolicy', () => {
    const conditions = [{ name: 'a', expression: 'object.spec.nope == 1' }, { name: 'b', expression: 'object.spec.other == 1' }];
    expect(run({ ...deny, matchConditions: conditions })).toEqual({
      code: 422,
      reason: 'Invalid',
      message: `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: [expression 'object.spec.nope == 1' resulted in error: no such key: nope, expression 'object.spec.other == 1' resulted in error: no such key: other]`,
    });
    expect(run({ ...deny, matchConditions: conditions.slice(0, 1) })?.message).toBe(
      `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.spec.nope == 1' resulted in error: no such key: nope`,
    );
    expect(run({ ...deny, failurePolicy: 'Ignore', matchConditions: conditions })).toBeUndefined();
  });

  it('variables: used by name, one after another, in conditions, validations and messages', () => {
    const spec = {
      variables: [
        { name: 'replicas', expression: 'object.spec.replicas' },
        { name: 'tooMany', expression: 'variables.replicas > 2' },
      ],
      matchConditions: [{ name: 'big', expression: 'variables.tooMany' }],
      validations: [{ expression: '!variables.tooMany', messageExpression: `'replicas: ' + string(variables.replicas)` }],
    };
    expect(run(spec)?.message).toBe(`deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: replicas: 3`);
    expect(run(spec, createDeployment(deployment('web', { replicas: 1 })))).toBeUndefined();
  });

  it('variables are lazy: one never used may fail; one used fails the expression using it', () => {
    const variables = [{ name: 'broken', expression: 'object.spec.nope' }];
    expect(run({ variables, validations: [{ expression: 'true' }] })).toBeUndefined();
    expect(run({ variables, validations: [{ expression: `true || variables.broken == 1` }] })).toBeUndefined();
    expect(run({ variables, validations: [{ expression: 'variables.broken == 1' }] })?.message).toBe(
      `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'variables.broken == 1' resulted in error: composited variable "broken" fails to evaluate: no such key: nope`,
    );
  });
});

describe('matching (matching.go, predicates)', () => {
  const denyAll = (matchConstraints: Obj) => policy('p', { matchConstraints, validations: [{ expression: 'false', message: 'm' }] });
  const applies = (matchConstraints: Obj, request: AdmissionRequest, bindingSpec: Obj = {}) =>
    admitWithPolicies(request, { policies: [denyAll(matchConstraints)], bindings: [binding('b', 'p', bindingSpec)] }) !== undefined;
  const rule = (r: Partial<typeof DEPLOYMENTS> & Obj) => ({ resourceRules: [{ ...DEPLOYMENTS, ...r }] });
  const web = createDeployment(deployment('web'));
  const scale = { ...web, operation: 'UPDATE' as const, subResource: 'scale', oldObject: deployment('web') };
  const nsRequest = (operation: AdmissionRequest['operation'], object: Obj | null, oldObject: Obj | null): AdmissionRequest => ({
    operation,
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: { group: '', version: 'v1', kind: 'Namespace' },
    name: 'team',
    ...(operation === 'CREATE' ? {} : { namespace: 'team' }),
    object,
    oldObject,
    namespaceObject: null,
    userInfo: ADMIN,
    dryRun: false,
  });
  const team = (labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels } });
  const namespaces = { apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['namespaces'] };

  it('apiGroups, apiVersions, operations and resources, with *', () => {
    expect(applies(rule({}), web)).toBe(true);
    expect(applies(rule({ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }), web)).toBe(true);
    expect(applies(rule({ apiGroups: [''] }), web)).toBe(false);
    expect(applies(rule({ apiVersions: ['v1beta1'] }), web)).toBe(false);
    expect(applies(rule({ operations: ['DELETE'] }), web)).toBe(false);
    expect(applies(rule({ resources: ['statefulsets'] }), web)).toBe(false);
  });

  it('subresources: res/sub, res/*, */sub and */* match them; res and * do not', () => {
    expect(applies(rule({ resources: ['deployments'] }), scale)).toBe(false);
    expect(applies(rule({ resources: ['*'] }), scale)).toBe(false);
    expect(applies(rule({ resources: ['deployments/scale'] }), scale)).toBe(true);
    expect(applies(rule({ resources: ['deployments/status'] }), scale)).toBe(false);
    expect(applies(rule({ resources: ['deployments/*'] }), scale)).toBe(true);
    expect(applies(rule({ resources: ['*/scale'] }), scale)).toBe(true);
    expect(applies(rule({ resources: ['*/*'] }), scale)).toBe(true);
    // res/* and */* take the resource itself too (rules.go: a "*" subresource matches the empty one).
    expect(applies(rule({ resources: ['deployments/*'] }), web)).toBe(true);
    expect(applies(rule({ resources: ['*/*'] }), web)).toBe(true);
    expect(applies(rule({ resources: ['deployments/scale'] }), web)).toBe(false);
  });

  it('resourceNames, scope and excludeResourceRules', () => {
    expect(applies(rule({ resourceNames: ['web'] }), web)).toBe(true);
    expect(applies(rule({ resourceNames: ['api'] }), web)).toBe(false);
    expect(applies(rule({ scope: 'Namespaced' }), web)).toBe(true);
    expect(applies(rule({ scope: 'Cluster' }), web)).toBe(false);
    expect(applies({ resourceRules: [{ ...namespaces, scope: 'Cluster' }] }, nsRequest('CREATE', team({}), null))).toBe(true);
    expect(applies({ resourceRules: [{ ...namespaces, scope: 'Namespaced' }] }, nsRequest('UPDATE', team({}), team({})))).toBe(false);
    expect(applies({ ...rule({}), excludeResourceRules: [{ ...DEPLOYMENTS, resourceNames: ['web'] }] }, web)).toBe(false);
    expect(applies({ ...rule({}), excludeResourceRules: [{ ...DEPLOYMENTS, resourceNames: ['api'] }] }, web)).toBe(true);
  });

  it('namespaceSelector: the namespace of a namespaced object; any cluster-scoped object but a Namespace', () => {
    const selector = { namespaceSelector: { matchLabels: { environment: 'test' } } };
    expect(applies({ ...rule({}), ...selector }, web)).toBe(true);
    expect(applies({ ...rule({}), namespaceSelector: { matchLabels: { environment: 'prod' } } }, web)).toBe(false);
    expect(applies({ ...rule({}), namespaceSelector: { matchExpressions: [{ key: 'environment', operator: 'In', values: ['test', 'dev'] }] } }, web)).toBe(true);
    expect(applies({ ...rule({}), namespaceSelector: { matchExpressions: [{ key: 'environment', operator: 'DoesNotExist' }] } }, web)).toBe(false);
    const clusterRole: AdmissionRequest = {
      ...web,
      group: 'rbac.authorization.k8s.io',
      resource: 'clusterroles',
      kind: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole' },
      namespace: undefined,
      namespaceObject: null,
      object: { metadata: { name: 'web' } },
    };
    delete clusterRole.namespace;
    const clusterRoles = { resourceRules: [{ apiGroups: ['rbac.authorization.k8s.io'], apiVersions: ['v1'], operations: ['*'], resources: ['clusterroles'] }] };
    expect(applies({ ...clusterRoles, namespaceSelector: { matchLabels: { environment: 'prod' } } }, clusterRole)).toBe(true);
  });

  it('namespaceSelector on a Namespace: its own labels when created or updated, the stored ones when deleted', () => {
    const selected = { resourceRules: [namespaces], namespaceSelector: { matchLabels: { team: 'a' } } };
    expect(applies(selected, nsRequest('CREATE', team({ team: 'a' }), null))).toBe(true);
    expect(applies(selected, nsRequest('CREATE', team({ team: 'b' }), null))).toBe(false);
    expect(applies(selected, nsRequest('UPDATE', team({ team: 'a' }), team({ team: 'b' })))).toBe(true);
    expect(applies(selected, nsRequest('UPDATE', team({ team: 'b' }), team({ team: 'a' })))).toBe(false);
    expect(applies(selected, nsRequest('DELETE', null, team({ team: 'a' })))).toBe(true);
    expect(applies(selected, nsRequest('DELETE', null, team({ team: 'b' })))).toBe(false);
    // The API server names a Namespace's own UPDATE and DELETE by it: the evaluator fills the namespace in.
    expect(applies(selected, { ...nsRequest('DELETE', null, team({ team: 'a' })), namespace: undefined })).toBe(true);
  });

  it('objectSelector: the object, or the old object', () => {
    const selected = { ...rule({ operations: ['*'] }), objectSelector: { matchLabels: { app: 'web' } } };
    expect(applies(selected, createDeployment(deployment('web', {}, { app: 'web' })))).toBe(true);
    expect(applies(selected, createDeployment(deployment('web', {}, { app: 'api' })))).toBe(false);
    expect(applies(selected, { ...createDeployment(deployment('web', {}, { app: 'api' })), operation: 'UPDATE', oldObject: deployment('web', {}, { app: 'web' }) })).toBe(true);
    expect(applies(selected, { ...web, operation: 'DELETE', object: null, oldObject: deployment('web', {}, { app: 'web' }) })).toBe(true);
    expect(applies({ ...rule({}), objectSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } }, web)).toBe(false);
  });

  it('a binding narrows with its own matchResources', () => {
    expect(applies(rule({}), web, { matchResources: { namespaceSelector: { matchLabels: { environment: 'test' } } } })).toBe(true);
    expect(applies(rule({}), web, { matchResources: { namespaceSelector: { matchLabels: { environment: 'prod' } } } })).toBe(false);
    expect(applies(rule({}), web, { matchResources: { resourceRules: [{ ...DEPLOYMENTS, operations: ['UPDATE'] }] } })).toBe(false);
  });

  it('never the policies and bindings themselves, nor the access reviews', () => {
    const everything = { resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }] };
    const of = (group: string, resource: string, kind: string): AdmissionRequest => ({
      ...web,
      group,
      resource,
      kind: { group, version: 'v1', kind },
      namespaceObject: null,
      object: { metadata: { name: 'x' } },
    });
    expect(applies(everything, of('apps', 'deployments', 'Deployment'))).toBe(true);
    expect(applies(everything, of('admissionregistration.k8s.io', 'validatingadmissionpolicies', 'ValidatingAdmissionPolicy'))).toBe(false);
    expect(applies(everything, of('admissionregistration.k8s.io', 'validatingadmissionpolicybindings', 'ValidatingAdmissionPolicyBinding'))).toBe(false);
    expect(applies(everything, of('authorization.k8s.io', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview'))).toBe(false);
  });
});

describe('what CEL sees of the request (cel/condition.go, activation.go)', () => {
  it('request: kind, resource, subResource, name, namespace, operation, userInfo, dryRun', () => {
    holds(`request.kind.group == 'apps' && request.kind.version == 'v1' && request.kind.kind == 'Deployment'`);
    holds(`request.resource.group == 'apps' && request.resource.resource == 'deployments' && !has(request.subResource)`);
    holds(`request.requestKind.kind == 'Deployment' && request.requestResource.resource == 'deployments'`);
    holds(`request.name == 'web' && request.namespace == 'demo' && request.operation == 'CREATE'`);
    holds(`request.userInfo.username == 'kubernetes-admin' && request.userInfo.uid == 'u-1' && 'system:authenticated' in request.userInfo.groups`);
    holds(`request.dryRun == false`);
    holds(`request.dryRun == true`, createDeployment(deployment('web'), { dryRun: true }));
  });

  it('namespaceObject: metadata, spec and status of the namespace; null for cluster-scoped requests and Namespaces', () => {
    holds(`namespaceObject.metadata.name == 'demo' && namespaceObject.metadata.labels.environment == 'test'`);
    holds(`!has(namespaceObject.apiVersion) && !has(namespaceObject.metadata.managedFields)`, createDeployment(deployment('web'), { namespaceObject: { ...NS_DEMO, metadata: { ...NS_DEMO.metadata, managedFields: [{}] } } }));
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } };
    const request: AdmissionRequest = {
      operation: 'CREATE',
      group: '',
      version: 'v1',
      resource: 'namespaces',
      kind: { group: '', version: 'v1', kind: 'Namespace' },
      name: 'team',
      object: ns,
      oldObject: null,
      namespaceObject: ns,
      userInfo: ADMIN,
      dryRun: false,
    };
    const p = policy('p', { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['namespaces'] }] }, validations: [{ expression: 'namespaceObject == null' }] });
    expect(admitWithPolicies(request, { policies: [p], bindings: [binding('b', 'p')] })).toBeUndefined();
  });
});
