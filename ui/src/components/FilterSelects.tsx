import { TASK_STATUSES, isTaskStatus, type TaskStatus } from '../lib/api-types';

export function TaskNameSelect({
  id,
  value,
  taskNames,
  onChange,
  label = 'Task type',
}: {
  id: string;
  value: string | null;
  taskNames: string[];
  onChange: (value: string | null) => void;
  label?: string;
}) {
  // Keep a value from the URL selectable even before (or without) the list of names.
  const names = value && !taskNames.includes(value) ? [value, ...taskNames] : taskNames;
  return (
    <label className="field" htmlFor={id}>
      <span>{label}</span>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value || null)}>
        <option value="">All task types</option>
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

export function StatusSelect({
  id,
  value,
  onChange,
}: {
  id: string;
  value: TaskStatus | null;
  onChange: (value: TaskStatus | null) => void;
}) {
  return (
    <label className="field" htmlFor={id}>
      <span>Status</span>
      <select
        id={id}
        value={value ?? ''}
        onChange={(e) => onChange(isTaskStatus(e.target.value) ? e.target.value : null)}
      >
        <option value="">All statuses</option>
        {TASK_STATUSES.map((status) => (
          <option key={status} value={status}>
            {status}
          </option>
        ))}
      </select>
    </label>
  );
}
