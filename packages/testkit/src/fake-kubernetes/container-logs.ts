/**
 * `GET …/pods/{name}/log` as the kubelet answers it: which container instance's log, by
 * pkg/kubelet/kubelet_pods.go `validateContainerLogStatus` (previous → the last terminated instance; else the running
 * one, the terminated one, the last terminated one, and for a waiting container the reason it has no log).
 */
import type { Obj } from './merge.js';
import type { ContainerRun } from './pod-run.js';

export const DEFAULT_CRASH_LOG = [
  '> web@1.0.0 start',
  '> node dist/server.js',
  '',
  '{"level":"info","time":"2024-05-01T12:00:00.000Z","msg":"loading configuration"}',
  '{"level":"info","time":"2024-05-01T12:00:00.012Z","msg":"connecting to database at 10.96.0.15:5432"}',
  '{"level":"fatal","time":"2024-05-01T12:00:03.015Z","msg":"could not connect to the database, exiting"}',
  'Error: connect ECONNREFUSED 10.96.0.15:5432',
  '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)',
].join('\n');

const withNewline = (text: string) => (text === '' || text.endsWith('\n') ? text : `${text}\n`);

/** What a running container has printed: a server starting, and (while unready) warming up. */
function runningLog(pod: Obj, c: ContainerRun): string {
  const container = (pod.spec?.containers ?? []).find((s: Obj) => s.name === c.name) ?? {};
  const port = container.ports?.[0]?.containerPort ?? 8080;
  const started: string = c.running!.startedAt;
  const lines = [
    `${started.replace('Z', '.021Z')} INFO starting ${c.name} (image ${container.image})`,
    `${started.replace('Z', '.187Z')} INFO configuration loaded from environment`,
    `${started.replace('Z', '.342Z')} INFO listening on 0.0.0.0:${port}`,
  ];
  if (!c.ready) lines.push(`${started.replace('Z', '.958Z')} WARN still warming up; answering 503 to readiness checks`);
  return `${lines.join('\n')}\n`;
}

/** The log text of container `c` of `pod`, or the reason there is none (answered 400). */
export function containerLogs(pod: Obj, name: string, c: ContainerRun | undefined, previous: boolean): { text: string } | { error: string } {
  if (!pod.spec?.nodeName) return { text: '' };
  const subject = `container "${name}" in pod "${pod.metadata.name}"`;
  if (previous) return c?.lastTerminated ? { text: withNewline(c.lastTerminated.log) } : { error: `previous terminated ${subject} not found` };
  if (c?.state === 'running') return { text: runningLog(pod, c) };
  if (c?.state === 'terminated') return { text: withNewline(c.terminated!.log) };
  if (c?.lastTerminated) return { text: withNewline(c.lastTerminated.log) };
  const reason = c?.state === 'waiting' ? c.waiting!.reason : 'ContainerCreating';
  if (reason === 'ErrImagePull') return { error: `${subject} is waiting to start: image can't be pulled` };
  if (reason === 'ImagePullBackOff') return { error: `${subject} is waiting to start: trying and failing to pull image` };
  return { error: `${subject} is waiting to start: ${reason}` };
}
