/**
 * kube-controller-manager's Job controller (pkg/controller/job/job_controller.go) and TTL-after-finished controller,
 * for NonIndexed Jobs: pods `<job>-<random>` from the template (whose labels the API server gave the Job's uid and
 * name), up to parallelism while completions remain; a failed pod counts in status.failed and is replaced after the
 * pod failure back-off (10 s doubling, at most 6 min) until failures exceed backoffLimit (Failed,
 * BackoffLimitExceeded); activeDeadlineSeconds after startTime the active pods are deleted (Failed,
 * DeadlineExceeded); enough succeeded pods complete it (Complete, completionTime). Conditions as a v1.30 controller
 * writes them (no SuccessCriteriaMet/FailureTarget, which 1.31 adds). ttlSecondsAfterFinished after finishing, the
 * Job and its pods are deleted. What each pod's container does is the rollout script's choice (jobPodPlan).
 */
import { CONTROLLER_MANAGER, DEF, isActivePod, now, podReady, splitKey } from './cluster-host.js';
import { clone, type Obj } from './merge.js';
import { jobPodPlan, type PodPlan } from './rollout-script.js';
import { PodOwnerController, type WorkloadControllerDeps } from './workload-controller.js';
import { admitPod, podFromTemplate } from './workload-pods.js';

const POD_FAILURE_BACKOFF_SECONDS = 10;
const MAX_POD_BACKOFF_SECONDS = 360;

const finishedCondition = (job: Obj): Obj | undefined => (job.status?.conditions ?? []).find((c: Obj) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

export class JobController extends PodOwnerController {
  private readonly plans = new Map<string, PodPlan>();
  /** startTime to the ms, for activeDeadlineSeconds on a scaled clock. */
  private readonly started = new Map<string, number>();
  private readonly lastFailure = new Map<string, number>();
  private readonly ttlScheduled = new Set<string>();

  constructor(deps: WorkloadControllerDeps) {
    super(deps, 'Job');
  }

  /** The garbage collector: a deleted Job's pods go with it. */
  deleted(job: Obj): void {
    for (const pod of this.podsOf(job)) this.removePod(pod);
    this.plans.delete(job.metadata.uid);
    this.started.delete(job.metadata.uid);
  }

  private plan(job: Obj): PodPlan {
    let plan = this.plans.get(job.metadata.uid);
    if (!plan) {
      plan = jobPodPlan(this.script(job, job.spec.parallelism ?? 1), Date.now(), this.clock.secondMs);
      this.plans.set(job.metadata.uid, plan);
    }
    return plan;
  }

  protected sync(key: string): void {
    const { namespace, name } = splitKey(key);
    const job = this.host.get(DEF.job, namespace, name);
    if (!job || this.host.namespace(namespace)?.status?.phase !== 'Active') return;
    const finished = finishedCondition(job);
    if (finished) return this.scheduleTtl(job, finished);
    if (job.spec.suspend) return;
    const uid = job.metadata.uid as string;
    const status: Obj = clone(job.status ?? {});
    if (!status.startTime) {
      status.startTime = now();
      this.started.set(uid, Date.now());
    }
    const startedMs = this.started.get(uid) ?? Date.parse(status.startTime);
    let pods = this.podsOf(job);
    const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
    const failed = pods.filter((p) => p.status?.phase === 'Failed').length;
    const completions: number = job.spec.completions ?? 1;
    const deadlineMs = job.spec.activeDeadlineSeconds === undefined ? undefined : startedMs + job.spec.activeDeadlineSeconds * this.clock.secondMs;
    let condition: Obj | undefined;
    if (succeeded >= completions) condition = { type: 'Complete', status: 'True' };
    else if (failed > (job.spec.backoffLimit ?? 6)) condition = { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (deadlineMs !== undefined && Date.now() >= deadlineMs) condition = { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };

    if (condition) {
      for (const pod of pods.filter(isActivePod)) this.removePod(pod);
      pods = this.podsOf(job);
    } else {
      if (failed > 0 && failed > (this.lastFailure.get(`${uid}/count`) ?? 0)) {
        this.lastFailure.set(`${uid}/count`, failed);
        this.lastFailure.set(uid, Date.now());
      }
      const backOffMs = failed === 0 ? 0 : Math.min(POD_FAILURE_BACKOFF_SECONDS * 2 ** (failed - 1), MAX_POD_BACKOFF_SECONDS) * this.clock.secondMs;
      const waitMs = failed === 0 ? 0 : (this.lastFailure.get(uid) ?? 0) + backOffMs - Date.now();
      const active = pods.filter(isActivePod).length;
      const wanted = Math.min(job.spec.parallelism ?? 1, completions - succeeded) - active;
      if (wanted > 0 && waitMs > 0) this.enqueue(job, waitMs + 1);
      else for (let i = 0; i < wanted; i++) this.createPod(job);
      pods = this.podsOf(job);
      if (deadlineMs !== undefined) this.enqueue(job, Math.max(this.clock.delayMs, deadlineMs - Date.now()));
    }
    const activePods = pods.filter(isActivePod);
    const next: Obj = {
      ...(status.conditions ? { conditions: status.conditions } : {}),
      startTime: status.startTime,
      ...(activePods.length ? { active: activePods.length } : {}),
      ...(succeeded ? { succeeded } : {}),
      ...(failed ? { failed } : {}),
      terminating: 0,
      ready: activePods.filter(podReady).length,
      uncountedTerminatedPods: {},
    };
    if (condition) {
      const at = now();
      next.conditions = [...(next.conditions ?? []), { ...condition, lastProbeTime: at, lastTransitionTime: at }];
      if (condition.type === 'Complete') {
        next.completionTime = at;
        this.events.record(job, 'Normal', 'Completed', 'Job completed', 'job-controller');
      } else this.events.record(job, 'Warning', condition.reason, condition.message, 'job-controller');
    }
    const updated = this.host.update(DEF.job, { ...job, status: next }, CONTROLLER_MANAGER, 'status');
    const done = finishedCondition(updated);
    if (done) this.scheduleTtl(updated, done);
  }

  private createPod(job: Obj): void {
    const pod = podFromTemplate(job, 'batch/v1', 'Job');
    const refusal = admitPod(this.host, pod);
    if (refusal) {
      this.events.record(job, 'Warning', 'FailedCreate', `Error creating: pods "${pod.metadata.name}" is forbidden: ${refusal}`, 'job-controller');
      this.enqueue(job, this.clock.secondMs);
      return;
    }
    const created = this.host.create(DEF.pod, pod, CONTROLLER_MANAGER);
    this.events.record(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, 'job-controller');
    this.kubelet.podCreated(created, this.plan(job));
  }

  /** The TTL-after-finished controller: the Job (and, by the garbage collector, its pods) goes ttl seconds after finishing. */
  private scheduleTtl(job: Obj, _finished: Obj): void {
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined || this.ttlScheduled.has(job.metadata.uid)) return;
    this.ttlScheduled.add(job.metadata.uid);
    this.host.schedule(ttl * this.clock.secondMs, () => {
      this.ttlScheduled.delete(job.metadata.uid);
      const current = this.host.get(DEF.job, job.metadata.namespace, job.metadata.name);
      if (!current || current.metadata.uid !== job.metadata.uid) return;
      this.deleted(current);
      this.host.remove(DEF.job, current.metadata.namespace, current.metadata.name);
    });
  }
}
