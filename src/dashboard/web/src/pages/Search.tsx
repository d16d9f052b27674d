// Finds a task by id in every queue.
import { api } from '../api';
import { Card, ErrorBox, Loading, Preview, StateBadge } from '../components/ui';
import { href, usePoll } from '../hooks';
import type { Task } from '../types';

export function SearchPage({ id }: { id: string }) {
  const found = usePoll(
    () =>
      id ? api.get<{ tasks: Task[] }>(`search?id=${encodeURIComponent(id)}`) : Promise.resolve({ tasks: [] }),
    [id],
    30_000,
  );
  return (
    <div>
      <h1>Search</h1>
      <Card title={id ? `Tasks with id ${id}` : 'Search by task id'}>
        <ErrorBox error={found.error} />
        {!id ? (
          <p class="muted">Type a task id in the box at the top.</p>
        ) : !found.data ? (
          <Loading what="results" />
        ) : found.data.tasks.length === 0 ? (
          <p class="muted" data-testid="search-empty">
            No queue has a task with this id.
          </p>
        ) : (
          <table class="table" data-testid="search-results">
            <thead>
              <tr>
                <th>Queue</th>
                <th>ID</th>
                <th>Type</th>
                <th>State</th>
                <th>Payload</th>
              </tr>
            </thead>
            <tbody>
              {found.data.tasks.map((t) => (
                <tr key={`${t.queue}/${t.id}`}>
                  <td>{t.queue}</td>
                  <td>
                    <a class="mono" href={href(['queues', t.queue, 'tasks', t.id])}>
                      {t.id}
                    </a>
                  </td>
                  <td>{t.type}</td>
                  <td>
                    <StateBadge state={t.state} />
                  </td>
                  <td>
                    <Preview value={t.payload} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
