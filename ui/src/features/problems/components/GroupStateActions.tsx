import { describeError } from '../../../lib/api-client';
import type { GroupState } from '../../../lib/api-types';
import { useSetGroupState } from '../api/set-group-state';

const ACTIONS: { to: GroupState; label: string }[] = [
  { to: 'resolved', label: 'Resolve' },
  { to: 'ignored', label: 'Ignore' },
  { to: 'open', label: 'Reopen' },
];

/** The state changes open to a group in `state`: the two other states. */
export function GroupStateActions({ id, state }: { id: number; state: GroupState }) {
  const change = useSetGroupState(id);
  return (
    <div className="group-state-actions" role="group" aria-label="Change the group's state">
      {ACTIONS.filter((action) => action.to !== state).map((action) => (
        <button key={action.to} type="button" disabled={change.isPending} onClick={() => change.mutate(action.to)}>
          {action.label}
        </button>
      ))}
      {change.isError && (
        <p className="state state-error" role="alert">
          Could not change the state: {describeError(change.error)}
        </p>
      )}
    </div>
  );
}
