// Live servers (taskmill or Go) and the tasks their workers are running.
import { api } from '../api';
import { Card, ErrorBox, Loading, Preview } from '../components/ui';
import { relTime } from '../format';
import { href, usePoll } from '../hooks';
import type { ServerInfo } from '../types';

export function ServersPage() {
  const servers = usePoll(() => api.get<{ servers: ServerInfo[] }>('servers'), []);
  return (
    <div>
      <h1>Servers</h1>
      <ErrorBox error={servers.error} />
      {!servers.data ? (
        <Loading what="servers" />
      ) : servers.data.servers.length === 0 ? (
        <Card>
          <p class="muted">No live server: nothing is processing tasks.</p>
        </Card>
      ) : (
        servers.data.servers.map((s) => (
          <Card key={s.id} title={`${s.host}:${s.pid}`}>
            <dl class="facts" data-testid="server-facts">
              <dt>ID</dt>
              <dd class="mono">{s.id}</dd>
              <dt>Status</dt>
              <dd>
                <span class={`badge ${s.status === 'active' ? 'ok' : 'paused'}`}>{s.status}</span>
              </dd>
              <dt>Started</dt>
              <dd>{relTime(s.started)}</dd>
              <dt>Busy</dt>
              <dd>
                {s.activeWorkers.length} of {s.concurrency} workers
              </dd>
              <dt>Queues</dt>
              <dd>
                {Object.entries(s.queues)
                  .map(([q, p]) => `${q} (${p})`)
                  .join(', ')}
                {s.strictPriority ? ' · strict priority' : ''}
              </dd>
            </dl>
            {s.activeWorkers.length === 0 ? (
              <p class="muted">Idle.</p>
            ) : (
              <table class="table" data-testid="workers-table">
                <thead>
                  <tr>
                    <th>Task</th>
                    <th>Type</th>
                    <th>Queue</th>
                    <th>Payload</th>
                    <th>Started</th>
                    <th>Deadline</th>
                  </tr>
                </thead>
                <tbody>
                  {s.activeWorkers.map((w) => (
                    <tr key={w.taskId}>
                      <td>
                        <a class="mono" href={href(['queues', w.queue, 'tasks', w.taskId])}>
                          {w.taskId}
                        </a>
                      </td>
                      <td>{w.taskType}</td>
                      <td>{w.queue}</td>
                      <td>
                        <Preview value={w.payload} />
                      </td>
                      <td>{relTime(w.started)}</td>
                      <td>{relTime(w.deadline)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        ))
      )}
    </div>
  );
}
