// One queue: its numbers and charts, and its tasks per state with paging, row and bulk actions.
import { api, seg } from '../api';
import { Chart } from '../components/Chart';
import { ActionButton, Card, ErrorBox, Loading, Preview, StateBadge } from '../components/ui';
import { dailyCharts, liveCharts } from '../charts';
import { bytes, duration, num, relTime } from '../format';
import { href, usePoll } from '../hooks';
import {
  STATES,
  type Config,
  type DailyStats,
  type Queue,
  type Sample,
  type State,
  type Task,
} from '../types';
import { PauseButton } from './Queues';

const PAGE_SIZES = [20, 50, 100];

/** Which bulk actions apply to a state (as the Inspector allows them). */
const BULK: Record<State, ('run' | 'archive' | 'delete')[]> = {
  active: [],
  pending: ['archive', 'delete'],
  aggregating: ['run', 'archive', 'delete'],
  scheduled: ['run', 'archive', 'delete'],
  retry: ['run', 'archive', 'delete'],
  archived: ['run', 'delete'],
  completed: ['delete'],
  // Waiting dependents are not asynq tasks yet: the Inspector's actions do not reach them.
  waiting: [],
};

/** Which row actions apply to a task in a state. */
function rowActions(state: string): ('run' | 'archive' | 'delete' | 'cancel')[] {
  switch (state) {
    case 'active':
      return ['cancel'];
    case 'pending':
      return ['archive', 'delete'];
    case 'waiting':
      return [];
    case 'archived':
      return ['run', 'delete'];
    case 'completed':
      return ['run', 'delete'];
    default:
      return ['run', 'archive', 'delete'];
  }
}

export async function taskAction(task: { queue: string; id: string }, action: string): Promise<void> {
  const path = `queues/${seg(task.queue)}/tasks/${seg(task.id)}`;
  if (action === 'delete') await api.del(path);
  else if (action === 'cancel for good') await api.post(`${path}/cancel`, { retry: false });
  else await api.post(`${path}/${action}`);
}

export function QueuePage({
  queue,
  query,
  config,
}: {
  queue: string;
  query: URLSearchParams;
  config: Config;
}) {
  const state = (STATES as readonly string[]).includes(query.get('state') ?? '')
    ? (query.get('state') as State)
    : 'pending';
  const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
  const pageSize = PAGE_SIZES.includes(Number(query.get('size'))) ? Number(query.get('size')) : 20;
  const group = query.get('group') ?? '';

  const info = usePoll(() => api.get<Queue>(`queues/${seg(queue)}`), [queue]);
  const samples = usePoll(() => api.get<{ samples: Record<string, Sample[]> }>('samples'), []);
  const history = usePoll(
    () => api.get<{ history: DailyStats[] }>(`queues/${seg(queue)}/history?days=7`),
    [queue],
    60_000,
  );
  const groups = usePoll(
    () => api.get<{ groups: { group: string; size: number }[] }>(`queues/${seg(queue)}/groups`),
    [queue],
  );
  const needsGroup = state === 'aggregating' && group === '';
  const tasks = usePoll(
    () =>
      needsGroup
        ? Promise.resolve({ tasks: [] as Task[], total: 0 })
        : api.get<{ tasks: Task[]; total: number }>(
            `queues/${seg(queue)}/states/${state}?page=${page}&pageSize=${pageSize}${group ? `&group=${encodeURIComponent(group)}` : ''}`,
          ),
    [queue, state, page, pageSize, group],
  );
  const live = liveCharts(samples.data?.samples[queue] ?? []);
  const daily = dailyCharts(history.data?.history ?? []);
  const q = info.data;
  const link = (over: Record<string, string | number | undefined>) =>
    href(['queues', queue], {
      state,
      page,
      size: pageSize === 20 ? undefined : pageSize,
      group: group || undefined,
      ...over,
    });
  const reloadAll = () => {
    tasks.reload();
    info.reload();
    groups.reload();
  };
  const total = tasks.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));

  return (
    <div>
      <p class="crumbs">
        <a href="#/">Queues</a> / {queue}
      </p>
      <div class="title-row">
        <h1>Queue {queue}</h1>
        {q ? (
          q.paused ? (
            <span class="badge paused">paused</span>
          ) : (
            <span class="badge ok">running</span>
          )
        ) : null}
        {q && !config.readOnly ? <PauseButton queue={q} after={info.reload} /> : null}
      </div>
      <ErrorBox error={info.error} />
      {q ? (
        <div class="stats" data-testid="queue-stats">
          <Stat label="Size" value={num(q.size)} />
          <Stat label="Latency" value={duration(q.latency)} />
          <Stat label="Processed today" value={num(q.processed)} />
          <Stat label="Failed today" value={num(q.failed)} />
          <Stat
            label="Error rate"
            value={q.processed ? `${((q.failed / q.processed) * 100).toFixed(1)}%` : '—'}
          />
          <Stat label="Memory" value={bytes(q.memoryUsage)} />
          <Stat label="Groups" value={num(q.groups)} />
          <Stat
            label="Limits"
            value={
              [
                q.limits.rate ? `${q.limits.rate.limit} per ${duration(q.limits.rate.periodMs)}` : '',
                q.limits.concurrency ? `${q.limits.concurrency} at once` : '',
              ]
                .filter(Boolean)
                .join(', ') || 'none'
            }
          />
        </div>
      ) : null}
      <div class="charts">
        <Chart title="Throughput, last hour" xs={live.xs} series={live.throughput} />
        <Chart title="Tasks by state" xs={live.xs} series={live.sizes} />
        <Chart title="Latency" xs={live.xs} series={live.latency} />
        <Chart title="Processed and failed per day" xs={daily.xs} series={daily.series} bars days />
      </div>
      <nav class="tabs" data-testid="state-tabs">
        {STATES.map((s) => (
          <a
            key={s}
            href={href(['queues', queue], { state: s })}
            class={s === state ? 'tab current' : 'tab'}
            data-state={s}
          >
            {s} <span class="count">{q ? num(q[s]) : ''}</span>
          </a>
        ))}
      </nav>
      <Card
        title={`${state} tasks`}
        actions={
          config.readOnly || needsGroup
            ? null
            : BULK[state].map((action) => (
                <ActionButton
                  key={action}
                  label={`${action[0]?.toUpperCase()}${action.slice(1)} all`}
                  danger={action === 'delete'}
                  testId={`bulk-${action}`}
                  confirm={`${action} every ${state} task${group ? ` of group ${group}` : ''} in queue ${queue}?`}
                  run={async () => {
                    await api.post(`queues/${seg(queue)}/states/${state}/${action}`, group ? { group } : {});
                    reloadAll();
                  }}
                />
              ))
        }
      >
        {state === 'aggregating' ? (
          <div class="groups-picker">
            Group: {(groups.data?.groups ?? []).length === 0 ? <span class="muted">no groups</span> : null}
            {(groups.data?.groups ?? []).map((g) => (
              <a
                key={g.group}
                href={link({ group: g.group, page: 1 })}
                class={g.group === group ? 'chip current' : 'chip'}
              >
                {g.group} ({g.size})
              </a>
            ))}
          </div>
        ) : null}
        <ErrorBox error={tasks.error} />
        {needsGroup ? (
          <p class="muted">Pick a group to list its tasks.</p>
        ) : !tasks.data ? (
          <Loading what="tasks" />
        ) : tasks.data.tasks.length === 0 ? (
          <p class="muted" data-testid="no-tasks">
            No {state} tasks.
          </p>
        ) : (
          <TaskTable tasks={tasks.data.tasks} state={state} readOnly={config.readOnly} after={reloadAll} />
        )}
        <div class="pager">
          <a
            href={link({ page: Math.max(1, page - 1) })}
            class={page <= 1 ? 'disabled' : ''}
            data-testid="prev-page"
          >
            ‹ Prev
          </a>
          <span>
            Page {page} of {pages} · {num(total)} tasks
          </span>
          <a
            href={link({ page: Math.min(pages, page + 1) })}
            class={page >= pages ? 'disabled' : ''}
            data-testid="next-page"
          >
            Next ›
          </a>
          <span class="sizes">
            {PAGE_SIZES.map((n) => (
              <a key={n} href={link({ size: n, page: 1 })} class={n === pageSize ? 'chip current' : 'chip'}>
                {n}
              </a>
            ))}{' '}
            per page
          </span>
        </div>
      </Card>
    </div>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div class="stat">
      <div class="stat-value">{value}</div>
      <div class="stat-label">{label}</div>
    </div>
  );
}

function TaskTable({
  tasks,
  state,
  readOnly,
  after,
}: {
  tasks: Task[];
  state: State;
  readOnly: boolean;
  after: () => void;
}) {
  return (
    <table class="table" data-testid="tasks-table">
      <thead>
        <tr>
          <th>ID</th>
          <th>Type</th>
          <th>Payload</th>
          {state === 'scheduled' || state === 'retry' ? <th>Runs</th> : null}
          {state === 'retry' || state === 'archived' ? <th>Last error</th> : null}
          {state === 'retry' || state === 'archived' ? <th>Retried</th> : null}
          {state === 'completed' ? <th>Completed</th> : null}
          {state === 'waiting' ? <th>Waiting for</th> : null}
          {state === 'active' ? <th>Progress</th> : null}
          {readOnly || state === 'waiting' ? null : <th>Actions</th>}
        </tr>
      </thead>
      <tbody>
        {tasks.map((t) => (
          <tr key={t.id} data-task={t.id}>
            <td>
              <a href={href(['queues', t.queue, 'tasks', t.id])} class="mono">
                {t.id}
              </a>
              {t.isOrphaned ? <span class="badge paused">orphaned</span> : null}
            </td>
            <td>{t.type}</td>
            <td>
              <Preview value={t.payload} />
            </td>
            {state === 'scheduled' || state === 'retry' ? <td>{relTime(t.nextProcessAt)}</td> : null}
            {state === 'retry' || state === 'archived' ? (
              <td class="err-text">
                {t.lastError.length > 120 ? `${t.lastError.slice(0, 120)}…` : t.lastError}
              </td>
            ) : null}
            {state === 'retry' || state === 'archived' ? (
              <td>
                {t.retried}/{t.maxRetry}
              </td>
            ) : null}
            {state === 'completed' ? <td>{relTime(t.completedAt)}</td> : null}
            {state === 'waiting' ? (
              <td>
                {(t.waitingFor ?? []).map((p) => (
                  <div key={`${p.queue}/${p.id}`}>
                    <a href={href(['queues', p.queue, 'tasks', p.id])} class="mono">
                      {p.queue}/{p.id}
                    </a>{' '}
                    <StateBadge state={p.state} />
                  </div>
                ))}
              </td>
            ) : null}
            {state === 'active' ? <td>{t.progress ? `${t.progress.percent}%` : '—'}</td> : null}
            {readOnly || state === 'waiting' ? null : (
              <td class="row-actions">
                {rowActions(t.state).map((a) => (
                  <ActionButton
                    key={a}
                    label={a}
                    danger={a === 'delete'}
                    testId={`${a}-${t.id}`}
                    run={async () => {
                      await taskAction(t, a);
                      after();
                    }}
                  />
                ))}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
