// Groups of tasks waiting to be aggregated, across queues.
import { api } from '../api';
import { Card, ErrorBox, Loading } from '../components/ui';
import { num } from '../format';
import { href, usePoll } from '../hooks';

export function GroupsPage() {
  const groups = usePoll(
    () => api.get<{ groups: { queue: string; group: string; size: number }[] }>('groups'),
    [],
  );
  return (
    <div>
      <h1>Groups</h1>
      <ErrorBox error={groups.error} />
      <Card title="Aggregating groups">
        {!groups.data ? (
          <Loading what="groups" />
        ) : groups.data.groups.length === 0 ? (
          <p class="muted">No task is waiting in a group.</p>
        ) : (
          <table class="table" data-testid="groups-table">
            <thead>
              <tr>
                <th>Queue</th>
                <th>Group</th>
                <th class="num">Tasks</th>
              </tr>
            </thead>
            <tbody>
              {groups.data.groups.map((g) => (
                <tr key={`${g.queue}/${g.group}`}>
                  <td>
                    <a href={href(['queues', g.queue])}>{g.queue}</a>
                  </td>
                  <td>
                    <a href={href(['queues', g.queue], { state: 'aggregating', group: g.group })}>
                      {g.group}
                    </a>
                  </td>
                  <td class="num">{num(g.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
