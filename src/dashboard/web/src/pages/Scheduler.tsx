// Periodic tasks of every live scheduler, their next runs and the tasks they enqueued.
import { useState } from 'preact/hooks';
import { api, seg } from '../api';
import { Card, ErrorBox, Loading, Preview } from '../components/ui';
import { absTime, entryQueue, relTime } from '../format';
import { href, usePoll } from '../hooks';
import type { SchedulerEntry } from '../types';

export function SchedulerPage() {
  const entries = usePoll(() => api.get<{ entries: SchedulerEntry[] }>('scheduler/entries'), []);
  const [open, setOpen] = useState<string | undefined>();
  return (
    <div>
      <h1>Scheduler</h1>
      <ErrorBox error={entries.error} />
      <Card title="Entries">
        {!entries.data ? (
          <Loading what="entries" />
        ) : entries.data.entries.length === 0 ? (
          <p class="muted">No live scheduler has entries.</p>
        ) : (
          <table class="table" data-testid="entries-table">
            <thead>
              <tr>
                <th>Spec</th>
                <th>Type</th>
                <th>Payload</th>
                <th>Options</th>
                <th>Next run</th>
                <th>Last run</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {entries.data.entries.map((e) => (
                <tr key={e.id}>
                  <td class="mono">{e.spec}</td>
                  <td>{e.taskType}</td>
                  <td>
                    <Preview value={e.payload} />
                  </td>
                  <td class="small">{e.options.join(', ')}</td>
                  <td title={absTime(e.next)}>{relTime(e.next)}</td>
                  <td title={absTime(e.prev)}>{e.prev ? relTime(e.prev) : 'not yet'}</td>
                  <td>
                    <button
                      type="button"
                      data-testid={`history-${e.id}`}
                      onClick={() => setOpen(open === e.id ? undefined : e.id)}
                    >
                      {open === e.id ? 'Hide history' : 'History'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {open && entries.data ? (
        <History entry={entries.data.entries.find((e) => e.id === open)} id={open} />
      ) : null}
    </div>
  );
}

function History({ entry, id }: { entry: SchedulerEntry | undefined; id: string }) {
  const [page, setPage] = useState(1);
  const events = usePoll(
    () =>
      api.get<{ events: { taskId: string; enqueuedAt: string }[] }>(
        `scheduler/entries/${seg(id)}/events?page=${page}&pageSize=20`,
      ),
    [id, page],
  );
  const queue = entry ? entryQueue(entry.options) : 'default';
  return (
    <Card title={`History of ${entry?.spec ?? id} (${entry?.taskType ?? ''})`}>
      <ErrorBox error={events.error} />
      {!events.data ? (
        <Loading what="history" />
      ) : events.data.events.length === 0 ? (
        <p class="muted">No enqueues recorded{page > 1 ? ' on this page' : ''}.</p>
      ) : (
        <table class="table" data-testid="events-table">
          <thead>
            <tr>
              <th>Enqueued</th>
              <th>Task</th>
            </tr>
          </thead>
          <tbody>
            {events.data.events.map((e) => (
              <tr key={e.taskId}>
                <td title={absTime(e.enqueuedAt)}>{relTime(e.enqueuedAt)}</td>
                <td>
                  <a class="mono" href={href(['queues', queue, 'tasks', e.taskId])}>
                    {e.taskId}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
          ‹ Newer
        </button>
        <span>Page {page}</span>
        <button
          type="button"
          disabled={(events.data?.events.length ?? 0) < 20}
          onClick={() => setPage(page + 1)}
        >
          Older ›
        </button>
      </div>
    </Card>
  );
}
