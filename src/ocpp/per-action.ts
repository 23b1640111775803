import { ACTION_COUNT, type ActionEntry, type ActionId, actionEntry } from './catalogue.js';

/**
 * What one layer works out once per action of a version, kept by the action's id: reading it for a CALL is an
 * array index, not a lookup by name. Each entry is made on first use, so actions nobody sends cost nothing.
 */
export class PerAction<T> {
  // Filled with undefined rather than left with holes, so the array keeps V8's fast packed elements.
  private readonly items: Array<T | undefined> = new Array<T | undefined>(ACTION_COUNT).fill(undefined);

  constructor(private readonly make: (entry: ActionEntry) => T) {}

  /** The entry for a catalogue id (never NOT_AN_ACTION: callers handle unknown actions first). */
  get(id: ActionId): T {
    const item = this.items[id];
    if (item !== undefined) return item;
    const made = this.make(actionEntry(id));
    this.items[id] = made;
    return made;
  }
}
