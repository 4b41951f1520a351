import { beforeEach, describe, expect, it } from "vitest";
import type { Deadline } from "../api/petitions";
import { forgetCalendar, useYear, yearsBetween } from "./calendar";
import { countdown, nextDeadline, queueOrder, workingDaysBetween } from "./workdays";

// 2026 as GET /v1/calendar/2026 answers it (source: library; the State Council's notice):
// National Day and Mid-Autumn 1–7 October, Sun 20 Sep and Sat 10 Oct worked.
const Y2026 = {
  year: 2026,
  source: "library" as const,
  holidays: ["2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",
    "2026-02-20", "2026-02-23", "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05",
    "2026-06-19", "2026-09-25", "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
  make_up_workdays: ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
  notice: null,
  version: 0,
  updated_at: null,
  updated_by: null,
};

beforeEach(() => {
  forgetCalendar();
  useYear(Y2026);
});

const clock = (due_at: string, extra: Partial<Deadline> = {}): Deadline => ({
  kind: "handling",
  started_at: "2026-09-01T00:00:00Z",
  due_on: null,
  due_at,
  met_at: null,
  cancelled_at: null,
  provisional: false,
  ...extra,
});

describe("working days on China's calendar", () => {
  it("skips the National Day holiday and counts the make-up Saturday", () => {
    // 2026: 1–7 October off; Saturday 10 October is a 调休 working day.
    expect(workingDaysBetween("2026-09-30", "2026-10-08")).toBe(1); // only the 8th
    expect(workingDaysBetween("2026-10-09", "2026-10-10")).toBe(1); // Saturday, a working day
  });

  it("takes a year's schedule from the API, and a later official one over it", () => {
    // 2027 not loaded: Monday to Friday. Loaded as provisional: New Year's Day is off.
    expect(workingDaysBetween("2026-12-31", "2027-01-01")).toBe(1);
    useYear({ ...Y2026, year: 2027, source: "provisional", holidays: ["2027-01-01"], make_up_workdays: [] });
    expect(workingDaysBetween("2026-12-31", "2027-01-01")).toBe(0);
    useYear({ ...Y2026, year: 2027, source: "official", holidays: ["2027-01-01"], make_up_workdays: ["2027-01-02"] });
    expect(workingDaysBetween("2026-12-31", "2027-01-02")).toBe(1); // a Saturday worked
    expect(yearsBetween(["2027-02-01"], "2026-12-20")).toEqual([2026, 2027]);
  });

  it("counts an ordinary week as five", () => {
    expect(workingDaysBetween("2026-11-20", "2026-11-27")).toBe(5);
    expect(workingDaysBetween("2026-11-27", "2026-11-20")).toBe(0);
  });
});

describe("countdown", () => {
  const now = new Date("2026-11-23T02:00:00Z"); // Monday 10:00 in Shanghai

  it("is overdue past the due time, with the working days it is late", () => {
    const c = countdown(clock("2026-11-19T16:00:00Z"), now); // due by the end of Thursday
    expect(c.urgency).toBe("overdue");
    expect(c.workingDays).toBe(-2); // Friday and Monday have passed
  });

  it("is due soon within 72 hours, and fine beyond", () => {
    expect(countdown(clock("2026-11-24T16:00:00Z"), now).urgency).toBe("due_soon");
    const later = countdown(clock("2026-11-30T16:00:00Z"), now);
    expect(later.urgency).toBe("ok");
    expect(later.workingDays).toBe(5); // due by the end of Monday 30th: Tue–Fri and that Monday
  });

  it("is done once met or stopped", () => {
    expect(countdown(clock("2026-11-19T16:00:00Z", { met_at: "2026-11-18T00:00:00Z" }), now).urgency).toBe("done");
  });
});

describe("the queue's order", () => {
  const now = new Date("2026-11-23T02:00:00Z");
  const item = (name: string, deadlines: Deadline[]) => ({ name, deadlines, received_on: "2026-11-01" });

  it("puts overdue first, then due soon, then the rest, then cases without a clock", () => {
    const ordered = queueOrder(
      [
        item("none", []),
        item("later", [clock("2026-12-20T00:00:00Z")]),
        item("soon", [clock("2026-11-24T00:00:00Z")]),
        item("late", [clock("2026-11-20T00:00:00Z")]),
        item("met", [clock("2026-11-01T00:00:00Z", { met_at: "2026-10-30T00:00:00Z" })]),
      ],
      now,
    );
    expect(ordered.map((x) => x.name)).toEqual(["late", "soon", "later", "none", "met"]);
  });

  it("takes the running clock that falls due first", () => {
    const first = clock("2026-11-25T00:00:00Z", { kind: "return" });
    expect(nextDeadline([clock("2026-12-25T00:00:00Z"), first])).toBe(first);
  });
});
