/**
 * A handler that records the ids it ran; tasks of type `slow` wait until `release()`, so a test can
 * keep a slot busy for as long as it needs without timing anything.
 */
export function gatedHandler() {
  const ran: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handler = async (task: { id: string; type: string }) => {
    ran.push(task.id);
    if (task.type === 'slow') await gate;
  };
  return { ran, release, handler };
}
