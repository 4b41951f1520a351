import type zh from "./zh-CN";

const en: typeof zh = {
  app: { title: "Yintai District Console", workbench: "Workbench", queue: "Queue", newCase: "Register", dashboard: "Dashboard", signOut: "Sign out", language: "中文" },
  login: {
    title: "Sign in", username: "Account", password: "Password", submit: "Sign in", failed: "Sign-in failed: {reason}",
    demo: "Demo accounts (password: account + -demo)", hint: "The token stays in this tab only and ends when it closes.",
  },
  roles: { operator: "Operator", handler: "Handler", supervisor: "Supervisor", unit_head: "Unit head", planner: "Planner", admin: "Admin", system_client: "System client", read_only: "Read-only" },
  kind: { hotline_ticket: "12345 ticket", petition_case: "Petition case" },
  channel: { hotline_call: "Hotline call", web: "Web / app", letter: "Letter", visit: "Visit", transfer_from_above: "From higher level" },
  status: {
    registered: "Registered", declined: "Declined", accepted: "Accepted", dispatched: "Dispatched", in_progress: "In progress",
    replied: "Replied", rated: "Rated", closed: "Closed", open: "Open (all)",
  },
  action: {
    approve_return: "Approve return", refuse_return: "Refuse return", request_extension: "Ask for extension", approve_extension: "Approve extension", refuse_extension: "Refuse extension",
    register: "Register", accept: "Accept", decline: "Decline", dispatch: "Dispatch", take: "Take", return: "Return", reply: "Reply",
    rate: "Call-back rating", close: "Close", reopen: "Reopen", extend: "Extend", supervise: "Supervise", escalate: "Escalate", request_review: "Request review",
    deadline_changed: "Deadline moved", repeat_linked: "Linked as repeat", repeat_confirmed: "Repeat confirmed", repeat_unlinked: "Repeat unlinked",
  },
  field: {
    route: "Statutory route", notice_means: "Written notice by", notice_given_on: "Notice given on",
    reason: "Reason", note: "Note", to_unit_id: "Handling unit", outcome: "Outcome", reply: "Reply", rating: "Rating",
    days: "Days", due_on: "Due on",
  },
  route: {
    litigation_related: "Litigation-related (政法)", litigation: "Litigation", arbitration: "Arbitration", administrative_reconsideration: "Administrative reconsideration",
    other_administrative_procedure: "Other administrative procedure", party_discipline: "Party appeal / discipline", concluded_by_re_review: "Concluded by re-review", not_a_petition_matter: "Not a petition matter",
  },
  means: { in_person: "In person", post: "Post", online: "Online platform", sms: "SMS" },
  outcome: { supported: "Supported", explained: "Explained", not_supported: "Not supported" },
  rating: { satisfied: "Satisfied", basically_satisfied: "Basically satisfied", dissatisfied: "Dissatisfied" },
  deadline: {
    forwarding: "Forwarding",
    acceptance: "Acceptance", handling: "Handling", return: "Return window", review: "Review (复查)", re_review: "Re-review (复核)", hotline: "Ticket limit",
    supervision: "Supervision", provisional: "provisional",
    provisionalHint: "the year's official holiday schedule is not entered yet: counted on the statutory holidays only, recomputed once it is",
    left: "{n} working days left", today: "Due today", hoursLeft: "{n} h left", overdueBy: "{n} working days overdue", overdueHours: "Overdue",
    met: "Met", cancelled: "Stopped", due: "due {at}", none: "No clock",
  },
  queue: {
    title: "My unit's queue", filters: "Filters", statusAll: "Any status", kindAll: "Any kind", overdueOnly: "Overdue only", firstTimeOnly: "First-time only",
    search: "Search subject or text", empty: "No cases match", number: "Number", subject: "Subject", unit: "Handling unit", received: "Received",
    next: "Next deadline", more: "Load more", count: "{n} shown", dueSoon: "Due soon", overdue: "Overdue", urgent: "Urgent", repeat: "Repeat",
  },
  form: {
    title: "Register a call or letter", hint: "Enter moves on, Ctrl+Enter saves, Alt+1…5 picks the channel, Esc clears.",
    kind: "Kind", channel: "Channel", phone: "Caller's phone", name: "Name", idNumber: "ID number", address: "Address",
    subject: "Subject", description: "Request", category: "Category", place: "Place (town/village)", placeAddress: "Place address",
    urgent: "Urgent", save: "Save (Ctrl+Enter)", saved: "Registered {number}", clear: "Clear", anonymous: "May stay empty for anonymous callers",
    lookup: "Earlier cases of this number", lookupNone: "No earlier cases for this number", lookupUnavailable: "The API cannot look up a number's earlier cases yet; on saving, repeats are detected by phone.",
    repeatDetected: "Repeat caller: {score}% like {number}", firstTime: "First-time", open: "Open the case", another: "Register another",
    callerDefault: "Anonymous caller",
    requiredPetition: "A petition case needs the petitioner's name",
  },
  case: {
    back: "Back to the queue", timeline: "Timeline", actions: "Actions", noActions: "Nothing you may do in this state",
    deadlines: "Deadlines", details: "Details", petitioner: "Petitioner / caller", showPetitioner: "Show personal data (written to the access log)",
    masked: "Masked", unmasked: "Unmasked (access logged)", repeatOf: "Repeat of", firstTime: "First-time", confirmRepeat: "Confirm repeat",
    unlinkRepeat: "Unlink repeat", category: "Category", place: "Place", handlingUnit: "Handling unit", received: "Received",
    submit: "Submit", cancel: "Cancel", stale: "Someone else changed the case; reloaded, please try again.", done: "{action}: done",
    resolution: "Resolution level", grassroots: "Grassroots", effective: "Effective",
    pending: "Request awaiting a decision", pendingReturn: "Return (the 信访 registry decides)", pendingExtension: "Extension (the unit's head approves)",
    pendingDays: "{days} days", pendingBy: "asked by {who} on {at}",
  },
  dash: {
    title: "Dashboard", plan: "Work report", period: "Period", byChapter: "Indicators by chapter", livelihood: "Ten livelihood projects",
    grassroots: "First-time petitions resolved at the grassroots", target: "target {p}", trend: "By month", byTown: "By town", drill: "Click for the cases",
    hotline: "12345 hotline", response: "Response", resolution: "Resolution", satisfaction: "Satisfaction", onTime: "On time",
    cases: "Cases", inNumerator: "In numerator", all: "All", numerator: "Numerator", denominator: "Denominator", rate: "Rate",
    noData: "No data", expected: "Expected by now", actual: "Actual", indicators: "{n} indicators", project: "No. {n}",
    targetValue: "target",
    loading: "Loading…", yes: "yes", no: "no", close: "Close", closedOn: "Closed on", town: "Town",
  },
  indicatorStatus: { achieved: "Achieved", on_track: "On track", at_risk: "At risk", off_track: "Off track", overdue: "Overdue", not_started: "Not started" },
  indicatorKind: { at_least: "at least", at_most: "at most", exact: "exactly", milestone: "milestone", percentage: "rate" },
  level: { district: "district", department: "department", town: "town", village: "village" },
  unit: { items: "items", sessions: "sessions", percent: "%", persons: "persons", stores: "stores", beds: "beds", yuan: "yuan", usd: "USD", person_times: "person-times", posts: "posts", school_places: "school places", villages: "villages", residential_compounds: "compounds", toilets: "toilets" },
  error: { generic: "Error: {detail}", forbidden: "Your role may not open this page", network: "Service unreachable" },
};

export default en;
