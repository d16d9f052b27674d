// "Why isn't it running?": the Inspector's explanation of the task's state, when the server has it.
import { Card } from '../components/ui';

export function Explanation(_props: { queue: string; id: string; state: string }) {
  return (
    <Card title="Why isn't it running?">
      <p class="muted">Explanations are not available on this server.</p>
    </Card>
  );
}
