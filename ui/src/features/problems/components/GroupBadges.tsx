import type { GroupState } from '../../../lib/api-types';

/** A group's state as a word: colour is never the only signal. */
export function GroupStateBadge({ state }: { state: GroupState }) {
  return (
    <span className={`badge badge-group-${state}`} data-testid="group-state">
      {state}
    </span>
  );
}

/** "new" (first seen inside the window) and "regression" (failed again after being resolved). */
export function GroupMarkers({ isNew, regression }: { isNew: boolean; regression: boolean }) {
  return (
    <>
      {isNew && (
        <span className="marker marker-new" data-testid="group-new" title="First seen inside the window">
          new
        </span>
      )}
      {regression && (
        <span className="marker marker-regression" data-testid="group-regression" title="Failed again after it was resolved">
          regression
        </span>
      )}
    </>
  );
}

/** The label of a group whose error has no type. */
export const errorTypeOf = (errorType: string | null) => errorType ?? 'Untyped error';
