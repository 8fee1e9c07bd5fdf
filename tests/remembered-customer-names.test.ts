import { RememberedCustomerNames } from "../src/directory/customer-names";

/** The memory behind a page filtered by a customer name: bounded, per workspace, and never holding an answer it cannot test. */
describe("the customer names remembered for pages", () => {
  const ids = (...values: string[]) => new Set(values);

  it("recalls an answer by workspace and name as given, sorted", () => {
    const names = new RememberedCustomerNames();
    names.remember("ws-a", "Zoë Park", ids("cu-2", "cu-1"));
    expect(names.recall("ws-a", "Zoë Park")).toEqual(["cu-1", "cu-2"]);
    expect(names.recall("ws-b", "Zoë Park")).toBeUndefined();
    expect(names.recall("ws-a", "zoë park")).toBeUndefined();
  });

  it("forgets a name when the answer covers no customer, or more than it may hold", () => {
    const names = new RememberedCustomerNames({ names: 10, customersPerName: 2, nameLength: 255 });
    names.remember("ws-a", "Ana", ids("cu-1"));
    names.remember("ws-a", "Ana", ids());
    expect(names.recall("ws-a", "Ana")).toBeUndefined();
    names.remember("ws-a", "Ben", ids("cu-1", "cu-2"));
    names.remember("ws-a", "Ben", ids("cu-1", "cu-2", "cu-3"));
    expect(names.recall("ws-a", "Ben")).toBeUndefined();
    expect(names.size).toBe(0);
  });

  it("does not remember a name longer than a stored one, whatever it covers", () => {
    const names = new RememberedCustomerNames();
    const long = `Zoë${"\u200b".repeat(300)}`;
    names.remember("ws-a", long, ids("cu-1"));
    expect(names.recall("ws-a", long)).toBeUndefined();
    names.remember("ws-a", "x".repeat(255), ids("cu-1"));
    expect(names.recall("ws-a", "x".repeat(255))).toEqual(["cu-1"]);
  });

  it("holds at most its bound of names, forgetting the least recently used", () => {
    const names = new RememberedCustomerNames({ names: 3, customersPerName: 10, nameLength: 255 });
    for (const name of ["a", "b", "c"]) names.remember("ws", name, ids(`cu-${name}`));
    expect(names.recall("ws", "a")).toEqual(["cu-a"]);
    names.remember("ws", "d", ids("cu-d"));
    expect(names.size).toBe(3);
    expect(names.recall("ws", "b")).toBeUndefined();
    for (const name of ["a", "c", "d"]) expect(names.recall("ws", name)).toEqual([`cu-${name}`]);
  });
});
