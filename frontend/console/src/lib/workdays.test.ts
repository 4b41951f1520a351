import { describe, expect, it } from "vitest";
import type { Deadline } from "../api/petitions";
import { countdown, nextDeadline, queueOrder, workingDaysBetween } from "./workdays";

const clock = (due_at: string, extra: Partial<Deadline> = {}): Deadline => ({
  kind: "handling",
  started_at: "2026-09-01T00:00:00Z",
  due_on: null,
  due_at,
  met_at: null,
  cancelled_at: null,
  ...extra,
});

describe("working days on China's calendar", () => {
  it("skips the National Day holiday and counts the make-up Saturday", () => {
    // 2026: 1–7 October off; Sunday 27 September and Saturday 10 October are 调休 working days.
    expect(workingDaysBetween("2026-09-30", "2026-10-08")).toBe(1); // only the 8th
    expect(workingDaysBetween("2026-10-09", "2026-10-10")).toBe(1); // Saturday, a working day
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
