// Overview: every queue with its sizes, and charts of the last hour (sampled live) and days.
import { api, seg } from '../api';
import { Chart } from '../components/Chart';
import { ActionButton, Card, ErrorBox, Loading } from '../components/ui';
import { dailyCharts, liveCharts } from '../charts';
import { bytes, duration, num } from '../format';
import { href, usePoll } from '../hooks';
import type { Config, DailyStats, Queue, Sample } from '../types';

export function QueuesPage({ config }: { config: Config }) {
  const queues = usePoll(() => api.get<{ queues: Queue[]; more: string[] }>('queues'), []);
  const samples = usePoll(() => api.get<{ total: Sample[] }>('samples'), []);
  const history = usePoll(() => api.get<{ history: DailyStats[] }>('history?days=7'), [], 60_000);
  const live = liveCharts(samples.data?.total ?? []);
  const daily = dailyCharts(history.data?.history ?? []);

  return (
    <div>
      <h1>Queues</h1>
      <div class="charts">
        <Chart
          title="Throughput, last hour (all queues)"
          xs={live.xs}
          series={live.throughput}
          testId="chart-throughput"
        />
        <Chart title="Tasks by state" xs={live.xs} series={live.sizes} testId="chart-sizes" />
        <Chart title="Latency (oldest pending)" xs={live.xs} series={live.latency} testId="chart-latency" />
        <Chart
          title="Processed and failed per day"
          xs={daily.xs}
          series={daily.series}
          bars
          days
          testId="chart-daily"
        />
      </div>
      <Card title="All queues">
        <ErrorBox error={queues.error} />
        {!queues.data ? (
          <Loading what="queues" />
        ) : queues.data.queues.length === 0 ? (
          <p class="muted">No queues yet: a queue appears when a client first enqueues into it.</p>
        ) : (
          <table class="table" data-testid="queues-table">
            <thead>
              <tr>
                <th>Queue</th>
                <th>State</th>
                <th class="num">Size</th>
                <th class="num">Active</th>
                <th class="num">Pending</th>
                <th class="num">Scheduled</th>
                <th class="num">Retry</th>
                <th class="num">Archived</th>
                <th class="num">Completed</th>
                <th class="num">Waiting</th>
                <th class="num">Latency</th>
                <th class="num">Processed today</th>
                <th class="num">Failed today</th>
                <th class="num">Memory</th>
                {config.readOnly ? null : <th />}
              </tr>
            </thead>
            <tbody>
              {queues.data.queues.map((q) => (
                <tr key={q.queue} data-queue={q.queue}>
                  <td>
                    <a href={href(['queues', q.queue])}>{q.queue}</a>
                  </td>
                  <td>
                    {q.paused ? (
                      <span class="badge paused">paused</span>
                    ) : (
                      <span class="badge ok">running</span>
                    )}
                  </td>
                  <td class="num">{num(q.size)}</td>
                  <td class="num">{num(q.active)}</td>
                  <td class="num">{num(q.pending)}</td>
                  <td class="num">{num(q.scheduled)}</td>
                  <td class="num">{num(q.retry)}</td>
                  <td class="num">{num(q.archived)}</td>
                  <td class="num">{num(q.completed)}</td>
                  <td class="num">{num(q.waiting)}</td>
                  <td class="num">{duration(q.latency)}</td>
                  <td class="num">{num(q.processed)}</td>
                  <td class="num">{num(q.failed)}</td>
                  <td class="num">{bytes(q.memoryUsage)}</td>
                  {config.readOnly ? null : (
                    <td>
                      <PauseButton queue={q} after={queues.reload} />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {queues.data && queues.data.more.length > 0 ? (
          <p class="muted">{queues.data.more.length} more queues not shown.</p>
        ) : null}
      </Card>
    </div>
  );
}

export function PauseButton({ queue, after }: { queue: Queue; after: () => void }) {
  return queue.paused ? (
    <ActionButton
      label="Unpause"
      testId={`unpause-${queue.queue}`}
      run={async () => {
        await api.post(`queues/${seg(queue.queue)}/unpause`);
        after();
      }}
    />
  ) : (
    <ActionButton
      label="Pause"
      testId={`pause-${queue.queue}`}
      run={async () => {
        await api.post(`queues/${seg(queue.queue)}/pause`);
        after();
      }}
    />
  );
}
