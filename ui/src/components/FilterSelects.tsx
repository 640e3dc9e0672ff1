import { TASK_STATUSES, isTaskStatus, type TaskStatus } from '../lib/api-types';

/** A select of strings with an "all" option (the empty value, meaning no filter). */
export function ChoiceSelect({
  id,
  label,
  allLabel,
  value,
  choices,
  onChange,
}: {
  id: string;
  label: string;
  allLabel: string;
  value: string | null;
  choices: string[];
  onChange: (value: string | null) => void;
}) {
  // Keep a value from the URL selectable even before (or without) the list of choices.
  const shown = value && !choices.includes(value) ? [value, ...choices] : choices;
  return (
    <label className="field" htmlFor={id}>
      <span>{label}</span>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value || null)}>
        <option value="">{allLabel}</option>
        {shown.map((choice) => (
          <option key={choice} value={choice}>
            {choice}
          </option>
        ))}
      </select>
    </label>
  );
}

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
  return (
    <ChoiceSelect id={id} label={label} allLabel="All task types" value={value} choices={taskNames} onChange={onChange} />
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
