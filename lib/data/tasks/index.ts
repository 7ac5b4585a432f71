// The built-in tasks by name, for the CLI's `attnode demo --task NAME` and for tests.
import { generateDates, type DateTaskOptions } from './dates.js';
import { generateSequenceTask, type SequenceTaskOptions } from './sequences.js';
import type { TaskExample } from './split.js';

export interface TaskOptionsByName {
  copy: SequenceTaskOptions;
  reverse: SequenceTaskOptions;
  sort: SequenceTaskOptions;
  dates: DateTaskOptions;
}
export type TaskName = keyof TaskOptionsByName;
export const TASK_NAMES: readonly TaskName[] = ['copy', 'reverse', 'sort', 'dates'];

/** Generate `count` seeded examples of a built-in task, on its train or held-out side. */
export function generateTask<N extends TaskName>(name: N, options: TaskOptionsByName[N]): TaskExample[] {
  switch (name) {
    case 'copy': case 'reverse': case 'sort':
      return generateSequenceTask(name, options as SequenceTaskOptions);
    case 'dates':
      return generateDates(options as DateTaskOptions);
    default:
      throw new RangeError(`task: unknown name ${JSON.stringify(name)} (known: ${TASK_NAMES.join(', ')})`);
  }
}

export { generateDates, formatDate, isoDate, ordinal, isHeldOutDate, DATE_FORMATS, MONTH_NAMES, WEEKDAY_NAMES } from './dates.js';
export type { DateFormat, DateExample, DateTaskOptions, LetterCase } from './dates.js';
export { generateSequenceTask } from './sequences.js';
export type { SequenceTaskName, SequenceTaskOptions } from './sequences.js';
export { isLeapYear, daysInMonth, isValidDate, daysFromCivil, civilFromDays, weekdayOf } from './calendar.js';
export type { CivilDate } from './calendar.js';
export { isHeldOut } from './split.js';
export type { TaskSplit, TaskCommonOptions, TaskExample } from './split.js';
export { generateDateText } from './date-text.js';
export type { DateTextOptions } from './date-text.js';
