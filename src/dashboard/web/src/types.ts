// The shapes the API answers (src/dashboard/serialize.ts on the server).

export interface Rendered {
  size: number;
  kind: 'empty' | 'json' | 'text' | 'binary';
  text: string;
  truncated: boolean;
}

export interface Queue {
  queue: string;
  size: number;
  pending: number;
  active: number;
  scheduled: number;
  retry: number;
  archived: number;
  completed: number;
  aggregating: number;
  waiting: number;
  groups: number;
  memoryUsage: number;
  processed: number;
  failed: number;
  processedTotal: number;
  failedTotal: number;
  paused: boolean;
  latency: number;
  limits: { rate?: { limit: number; periodMs: number }; concurrency?: number };
  timestamp: string;
}

export interface Task {
  id: string;
  queue: string;
  type: string;
  state: string;
  payload: Rendered;
  headers: Record<string, string>;
  maxRetry: number;
  retried: number;
  lastError: string;
  lastFailedAt: string | null;
  timeout: number;
  deadline: string | null;
  retention: number;
  completedAt: string | null;
  nextProcessAt: string | null;
  group: string;
  result: Rendered | null;
  priority: number;
  progress: { percent: number; message: string | null; at: string } | null;
  isOrphaned: boolean;
  waitingFor: { queue: string; id: string; state: string }[] | null;
}

export interface Sample {
  t: number;
  pending: number;
  active: number;
  scheduled: number;
  retry: number;
  archived: number;
  completed: number;
  aggregating: number;
  waiting: number;
  processedTotal: number;
  failedTotal: number;
  latency: number;
}

export interface DailyStats {
  date: string;
  processed: number;
  failed: number;
}

export interface Worker {
  taskId: string;
  taskType: string;
  queue: string;
  payload: Rendered;
  started: string;
  deadline: string;
}

export interface ServerInfo {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  queues: Record<string, number>;
  strictPriority: boolean;
  status: string;
  started: string;
  activeWorkers: Worker[];
}

export interface SchedulerEntry {
  id: string;
  spec: string;
  taskType: string;
  payload: Rendered;
  options: string[];
  next: string;
  prev: string | null;
}

export interface Config {
  readOnly: boolean;
  metrics: boolean;
  auth: boolean;
}

export const STATES = [
  'active',
  'pending',
  'aggregating',
  'scheduled',
  'retry',
  'archived',
  'completed',
  'waiting',
] as const;
export type State = (typeof STATES)[number];
