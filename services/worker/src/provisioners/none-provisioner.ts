import { setTimeout as sleep } from 'node:timers/promises';
import type { LogSink, OwnedNamespace, ProvisionResult, ProvisionTarget, Provisioner } from './provisioner.js';

/**
 * The local default: touches no cluster and completes each step after `delayMs`, logging what a real driver
 * would do, so the whole lifecycle is visible on a laptop.
 */
export class NoneProvisioner implements Provisioner {
  readonly name = 'none';

  constructor(private readonly delayMs: number) {}

  async provision(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    log(`[none] namespace ${target.namespace} created (simulated, no cluster)`);
    await sleep(this.delayMs, undefined, { signal });
    return this.rollout(target, log, signal);
  }

  async update(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    return this.rollout(target, log, signal);
  }

  readonly destroyTimeout = { seconds: 0, ms: 0 };

  async destroy(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<'gone'> {
    log(`[none] deleting namespace ${target.namespace} (simulated)`);
    await sleep(this.delayMs, undefined, { signal });
    log(`[none] namespace ${target.namespace} deleted`);
    return 'gone';
  }

  async ownedNamespaces(): Promise<OwnedNamespace[] | null> {
    return null;
  }

  async deleteNamespace(): Promise<void> {}

  private async rollout(target: ProvisionTarget, log: LogSink, signal: AbortSignal): Promise<ProvisionResult> {
    log(`[none] rolling out ${target.repositoryFullName}@${target.commitSha.slice(0, 7)} (simulated)`);
    await sleep(this.delayMs, undefined, { signal });
    log(`[none] rollout complete; serving at ${target.environmentUrl ?? '(no URL)'}`);
    return { url: target.environmentUrl };
  }
}
