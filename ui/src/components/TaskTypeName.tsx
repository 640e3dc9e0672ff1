import type { TaskTypeLabel } from '../lib/task-types';

/** A task name, with its service (and environment) when the list shows the name more than once. */
export function TaskTypeName({ label }: { label: TaskTypeLabel }) {
  return (
    <>
      {label.name}
      {label.qualifier !== null && (
        <>
          {' '}
          <span className="task-type-qualifier" data-testid="task-type-qualifier">
            {label.qualifier}
          </span>
        </>
      )}
    </>
  );
}
