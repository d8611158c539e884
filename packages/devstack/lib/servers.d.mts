import type { ChildProcess } from 'node:child_process';

export interface RunningServer {
  url: string;
  port: number;
  logFile: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function freePort(): Promise<number>;
export function portInUse(port: number, host?: string): Promise<boolean>;
export function findPostgresBinDir(): string | null;
export function startPostgres(options: { dir: string; port: number; database: string; fast?: boolean }): Promise<RunningServer>;
export function startRedis(options: { dir: string; port: number; durable?: boolean }): Promise<RunningServer>;
