// One task: what it is, what it carries, where it is in its life, and what can be done with it.
import { api, seg } from '../api';
import { ActionButton, Bytes, Card, ErrorBox, Loading, StateBadge } from '../components/ui';
import { absTime, duration, relTime } from '../format';
import { href, usePoll } from '../hooks';
import type { Config, Task } from '../types';
import { Explanation } from './Explain';
import { taskAction } from './Queue';

function actionsFor(state: string): string[] {
  switch (state) {
    case 'active':
      return ['cancel', 'cancel for good'];
    case 'pending':
      return ['archive', 'delete', 'cancel for good'];
    case 'waiting':
      // A dependent is not an asynq task until its parents complete: nothing acts on it yet.
      return [];
    case 'archived':
    case 'completed':
      return ['run', 'delete'];
    default:
      return ['run', 'archive', 'delete', 'cancel for good'];
  }
}

interface TimelineEvent {
  at: string;
  what: string;
}

function timeline(t: Task): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  if (t.lastFailedAt)
    events.push({ at: t.lastFailedAt, what: `Last failure (retried ${t.retried} of ${t.maxRetry} times)` });
  if (t.progress) events.push({ at: t.progress.at, what: `Progress ${t.progress.percent}%` });
  if (t.completedAt) events.push({ at: t.completedAt, what: 'Completed' });
  if (t.nextProcessAt && (t.state === 'scheduled' || t.state === 'retry' || t.state === 'pending'))
    events.push({ at: t.nextProcessAt, what: t.state === 'pending' ? 'Ready to run' : 'Runs next' });
  if (t.deadline) events.push({ at: t.deadline, what: 'Deadline' });
  return events.sort((a, b) => a.at.localeCompare(b.at));
}

export function TaskPage({ queue, id, config }: { queue: string; id: string; config: Config }) {
  const path = `queues/${seg(queue)}/tasks/${seg(id)}`;
  const task = usePoll(() => api.get<{ task: Task }>(path), [queue, id]);
  const t = task.data?.task;
  return (
    <div>
      <p class="crumbs">
        <a href="#/">Queues</a> / <a href={href(['queues', queue])}>{queue}</a> / {id}
      </p>
      <div class="title-row">
        <h1 class="mono">{id}</h1>
        {t ? <StateBadge state={t.state} /> : null}
      </div>
      <ErrorBox error={task.error} />
      {!t ? (
        task.error ? null : (
          <Loading what="task" />
        )
      ) : (
        <div class="task-grid">
          <Card
            title="Task"
            actions={
              config.readOnly
                ? null
                : actionsFor(t.state).map((a) => (
                    <ActionButton
                      key={a}
                      label={a}
                      danger={a === 'delete' || a === 'cancel for good'}
                      testId={`task-${a.replace(/ /g, '-')}`}
                      confirm={a === 'delete' || a === 'cancel for good' ? `${a} task ${t.id}?` : undefined}
                      run={async () => {
                        await taskAction(t, a);
                        task.reload();
                      }}
                    />
                  ))
            }
          >
            <dl class="facts" data-testid="task-facts">
              <dt>Type</dt>
              <dd>{t.type}</dd>
              <dt>Queue</dt>
              <dd>{t.queue}</dd>
              <dt>State</dt>
              <dd>
                <StateBadge state={t.state} />
                {t.isOrphaned ? ' (lease expired: no live worker holds it)' : ''}
              </dd>
              <dt>Retries</dt>
              <dd>
                {t.retried} of {t.maxRetry}
              </dd>
              <dt>Priority</dt>
              <dd>{t.priority}</dd>
              <dt>Timeout</dt>
              <dd>{t.timeout ? duration(t.timeout) : 'none'}</dd>
              <dt>Deadline</dt>
              <dd>{t.deadline ? `${absTime(t.deadline)} (${relTime(t.deadline)})` : 'none'}</dd>
              <dt>Retention</dt>
              <dd>{t.retention ? duration(t.retention) : 'none'}</dd>
              {t.group ? (
                <>
                  <dt>Group</dt>
                  <dd>{t.group}</dd>
                </>
              ) : null}
              {t.nextProcessAt ? (
                <>
                  <dt>Next run</dt>
                  <dd>
                    {absTime(t.nextProcessAt)} ({relTime(t.nextProcessAt)})
                  </dd>
                </>
              ) : null}
            </dl>
            {t.progress ? (
              <div class="progress" data-testid="task-progress">
                <div class="bar">
                  <div class="fill" style={{ width: `${t.progress.percent}%` }} />
                </div>
                <span>
                  {t.progress.percent}% {t.progress.message ?? ''} · {relTime(t.progress.at)}
                </span>
              </div>
            ) : null}
          </Card>
          <Explanation queue={queue} id={id} state={t.state} />
          <Card title="Timeline">
            <ol class="timeline" data-testid="timeline">
              {timeline(t).map((e) => (
                <li key={e.what}>
                  <span class="when">{absTime(e.at)}</span> <span class="muted">({relTime(e.at)})</span>{' '}
                  {e.what}
                </li>
              ))}
              {timeline(t).length === 0 ? <li class="muted">Nothing recorded yet.</li> : null}
            </ol>
          </Card>
          {t.lastError ? (
            <Card title="Last error">
              <pre class="code err-text" data-testid="last-error">
                {t.lastError}
              </pre>
              <p class="muted small">{t.lastFailedAt ? `failed ${relTime(t.lastFailedAt)}` : ''}</p>
            </Card>
          ) : null}
          <Card title="Payload">
            <Bytes value={t.payload} label="payload" />
          </Card>
          <Card title="Result">
            <Bytes value={t.result} label="result" />
          </Card>
          <Card title="Headers">
            {Object.keys(t.headers).length === 0 ? (
              <p class="muted">No headers.</p>
            ) : (
              <table class="table">
                <tbody>
                  {Object.entries(t.headers).map(([k, v]) => (
                    <tr key={k}>
                      <th class="mono">{k}</th>
                      <td class="mono">{v}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
          {t.waitingFor ? (
            <Card title="Waiting for">
              <ul>
                {t.waitingFor.map((p) => (
                  <li key={`${p.queue}/${p.id}`}>
                    <a href={href(['queues', p.queue, 'tasks', p.id])} class="mono">
                      {p.queue}/{p.id}
                    </a>{' '}
                    <StateBadge state={p.state} />
                  </li>
                ))}
              </ul>
            </Card>
          ) : null}
        </div>
      )}
    </div>
  );
}
