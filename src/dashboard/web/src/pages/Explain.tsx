// "Why isn't it running?": the Inspector's explanation of the task (`inspector.explain`), in words.
import { api, seg } from '../api';
import { Card, ErrorBox, Loading } from '../components/ui';
import { usePoll } from '../hooks';

interface Explanation {
  state: string;
  reason: { code: string };
  summary: string;
  details: string[];
}

export function Explanation({ queue, id, state }: { queue: string; id: string; state: string }) {
  const explained = usePoll(
    () => api.get<{ explanation: Explanation }>(`queues/${seg(queue)}/tasks/${seg(id)}/explain`),
    [queue, id, state],
  );
  const e = explained.data?.explanation;
  return (
    <Card title={state === 'active' ? 'What is it doing?' : "Why isn't it running?"}>
      <ErrorBox error={explained.error} />
      {!e ? (
        explained.error ? null : (
          <Loading what="explanation" />
        )
      ) : (
        <div data-testid="explanation">
          <p class="explain-summary">{e.summary}</p>
          {e.details.length > 0 ? (
            <ul>
              {e.details.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          ) : null}
          <p class="muted small">reason: {e.reason.code}</p>
        </div>
      )}
    </Card>
  );
}
