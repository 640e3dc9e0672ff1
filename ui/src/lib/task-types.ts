// A task type is a task name in one service and environment: the same name in two services is
// two task types. A list shows bare names, as long as no name in it stands for several types;
// such a name gets its service (and its environment, when those differ) to tell them apart.
import type { TaskTypeItem } from './api-types';

export type TaskType = TaskTypeItem;

// An API from before services answers without the fields: undefined is "none", like null.
const service = (type: TaskType) => type.service ?? null;
const environment = (type: TaskType) => type.environment ?? null;

/** A string naming the whole type, for React keys and maps. */
export const taskTypeKey = (type: TaskType): string =>
  JSON.stringify([type.task_name, service(type), environment(type)]);

export const sameTaskType = (a: TaskType, b: TaskType): boolean =>
  a.task_name === b.task_name && service(a) === service(b) && environment(a) === environment(b);

export function countTaskTypes(types: Iterable<TaskType>): number {
  const keys = new Set<string>();
  for (const type of types) keys.add(taskTypeKey(type));
  return keys.size;
}

export interface TaskTypeLabel {
  name: string;
  /** What tells this type from others of the same name in the list; null when none shares it. */
  qualifier: string | null;
  /** Name and qualifier in one string, for titles and accessible names. */
  text: string;
}

/** Labels for the task types of one list shown (cards, rows, feed entries). */
export function taskTypeLabeler(shown: Iterable<TaskType>): (type: TaskType) => TaskTypeLabel {
  const byName = new Map<string, Map<string, TaskType>>();
  for (const type of shown) {
    const types = byName.get(type.task_name) ?? new Map<string, TaskType>();
    types.set(taskTypeKey(type), type);
    byName.set(type.task_name, types);
  }
  // Per shared name: whether its types differ by environment, so that the environment is shown.
  const showEnvironment = new Map<string, boolean>();
  for (const [name, types] of byName) {
    if (types.size < 2) continue;
    showEnvironment.set(name, new Set([...types.values()].map(environment)).size > 1);
  }
  return (type) => {
    const withEnvironment = showEnvironment.get(type.task_name);
    if (withEnvironment === undefined) return { name: type.task_name, qualifier: null, text: type.task_name };
    const parts = [service(type) ?? 'no service'];
    if (withEnvironment) parts.push(environment(type) ?? 'no environment');
    const qualifier = parts.join(', ');
    return { name: type.task_name, qualifier, text: `${type.task_name} (${qualifier})` };
  };
}
