// China's working-day calendar as petitions-api keeps it (GET /v1/calendar/{year}): the
// official schedule where one was entered, else the library's, else only the rest days fixed
// by law (provisional). The console carries no holiday library of its own, so its countdowns
// count the same days as the deadlines they show.
import { reactive } from "vue";
import { get } from "../api/http";

export type CalendarSource = "official" | "library" | "provisional";

export interface CalendarYear {
  year: number;
  source: CalendarSource;
  /** weekdays that are rest days */
  holidays: string[];
  /** Saturdays and Sundays that are working days (调休) */
  make_up_workdays: string[];
  notice: string | null;
  version: number;
  updated_at: string | null;
  updated_by: string | null;
}

interface Loaded {
  source: CalendarSource;
  holidays: Set<string>;
  makeUp: Set<string>;
}

// Reactive: a badge computed before its year arrived is computed again when it does.
const state = reactive({ years: {} as Record<number, Loaded>, revision: 0 });
const pending = new Map<number, Promise<void>>();

/** Take a year as the API answers it (also how tests give the calendar). */
export function useYear(year: CalendarYear): void {
  state.years[year.year] = {
    source: year.source,
    holidays: new Set(year.holidays),
    makeUp: new Set(year.make_up_workdays),
  };
  state.revision += 1;
}

export function forgetCalendar(): void {
  state.years = {};
  pending.clear();
  state.revision += 1;
}

/** Fetch the years not yet loaded (once each; a failed fetch is tried again next time). */
export function loadYears(years: Iterable<number>): Promise<void> {
  const wanted = [...new Set(years)].filter((y) => !state.years[y]);
  return Promise.all(
    wanted.map((year) => {
      let loading = pending.get(year);
      if (!loading) {
        loading = get<CalendarYear>("petitions", `/v1/calendar/${year}`)
          .then(useYear)
          .finally(() => pending.delete(year));
        pending.set(year, loading);
      }
      return loading;
    }),
  ).then(() => undefined);
}

/** The years a countdown from today to these days reads. */
export function yearsBetween(days: string[], today: string): number[] {
  const all = [today, ...days].map((d) => Number(d.slice(0, 4)));
  const years: number[] = [];
  for (let y = Math.min(...all); y <= Math.max(...all); y += 1) years.push(y);
  return years;
}

export function yearLoaded(year: number): boolean {
  return state.revision >= 0 && Boolean(state.years[year]);
}

/** A working day by the API's calendar; a year not loaded yet counts Monday to Friday. */
export function isWorkday(day: string): boolean {
  const loaded = state.revision >= 0 ? state.years[Number(day.slice(0, 4))] : undefined;
  if (loaded?.makeUp.has(day)) return true;
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  if (weekday === 0 || weekday === 6) return false;
  return !loaded?.holidays.has(day);
}
