"use strict";
// Lab 2.1 "Manage leads and opportunities" (English values) done with the unmodified npm
// `dynamics-web-api` library, the way a script written against a real org would do it:
//
//   D365LAB_MOCK_URL=http://127.0.0.1:<port> D365LAB_MOCK_TOKEN=<token> node lab21.js
//
// Dates and the 16:30 due time are in UTC (the lab's time zone for English). Prints the ids
// of the records it made as one JSON document; d365lab's own checker then grades the tenant.

const { DynamicsWebApi } = require("dynamics-web-api");

const LEAD_TO_OPPORTUNITY_PROCESS = "919e14d1-6489-4852-abd0-a63a6ecaac5d";

function connect() {
  const serverUrl = process.env.D365LAB_MOCK_URL;
  const token = process.env.D365LAB_MOCK_TOKEN;
  if (!serverUrl || !token) throw new Error("D365LAB_MOCK_URL and D365LAB_MOCK_TOKEN must be set");
  return new DynamicsWebApi({ serverUrl, onTokenRefresh: async () => token });
}

function utcDate(daysFromToday) {
  const day = new Date();
  day.setUTCDate(day.getUTCDate() + daysFromToday);
  return day.toISOString().slice(0, 10);
}

async function qualify(api, leadId, createAccount) {
  const created = await api.callAction({
    collection: "leads",
    key: leadId,
    actionName: "Microsoft.Dynamics.CRM.QualifyLead",
    action: { CreateAccount: createAccount, CreateContact: true, CreateOpportunity: true, Status: 3 },
  });
  const opportunity = created.value.find((r) => r["@odata.type"] === "#Microsoft.Dynamics.CRM.opportunity");
  return opportunity.opportunityid;
}

async function moveTo(api, flow, stageId) {
  const traversed = flow.traversedpath ? flow.traversedpath.split(",") : [];
  if (flow._activestageid_value === stageId) return flow;
  traversed.push(stageId);
  await api.update({
    collection: "leadtoopportunitysalesprocesses",
    key: flow.businessprocessflowinstanceid,
    data: { "activestageid@odata.bind": `/processstages(${stageId})`, traversedpath: traversed.join(",") },
  });
  return { ...flow, _activestageid_value: stageId, traversedpath: traversed.join(",") };
}

async function main() {
  const api = connect();

  // Exercise 1: three leads.
  const leadA = await api.create({ collection: "leads", data: {
    subject: "Coffee Machine Lead Without Company", firstname: "Jane", lastname: "Doe", jobtitle: "Cafeteria Manager",
  } });
  const leadB = await api.create({ collection: "leads", data: {
    subject: "Coffee Machine Lead with Company", firstname: "Jon", lastname: "Doe", companyname: "Doe Inc.",
  } });
  const leadC = await api.create({ collection: "leads", data: {
    subject: "Another Coffee Machine Lead", firstname: "Jack", lastname: "Rogers", companyname: "Test Coffee Shop, Inc.",
  } });

  // Exercise 2: qualify A (no account) and B (account), disqualify then reactivate C.
  const opportunityA = await qualify(api, leadA, false);
  const opportunityB = await qualify(api, leadB, true);
  await api.update({ collection: "leads", key: leadC, data: { statecode: 2, statuscode: 6 } });
  await api.update({ collection: "leads", key: leadC, data: { statecode: 0, statuscode: 1 } });

  // Exercise 3: work the Doe Inc. opportunity.
  await api.update({ collection: "opportunities", key: opportunityB, data: {
    budgetamount: 17000,
    purchasetimeframe: 1,
    purchaseprocess: 1,
    description: "Looking to upgrade their current coffee machines at multiple locations.",
    estimatedclosedate: utcDate(1),
    isrevenuesystemcalculated: false,
    estimatedvalue: 16500,
  } });
  const callId = await api.create({ collection: "phonecalls", data: {
    subject: "Initial Call to Jon",
    "regardingobjectid_opportunity_phonecall@odata.bind": `/opportunities(${opportunityB})`,
    scheduledend: `${utcDate(0)}T16:30:00Z`,
  } });

  const stages = await api.retrieveMultiple({
    collection: "processstages", select: ["stagename"], filter: `_processid_value eq ${LEAD_TO_OPPORTUNITY_PROCESS}`,
  });
  const stage = Object.fromEntries(stages.value.map((s) => [s.stagename, s.processstageid]));
  const flows = await api.retrieveMultiple({
    collection: "leadtoopportunitysalesprocesses",
    select: ["_activestageid_value", "traversedpath"],
    filter: `_opportunityid_value eq ${opportunityB}`,
  });
  let flow = flows.value[0];

  flow = await moveTo(api, flow, stage.Develop);
  await api.update({ collection: "opportunities", key: opportunityB, data: {
    customerneed: "Looking to upgrade their coffee machines at multiple locations.",
    proposedsolution: "Recommending multiple AirPot Duo Machines.",
    identifycustomercontacts: true,
    identifycompetitors: true,
  } });
  flow = await moveTo(api, flow, stage.Propose);
  await api.update({ collection: "opportunities", key: opportunityB, data: {
    identifypursuitteam: true, developproposal: true, completeinternalreview: true, presentproposal: true,
  } });
  await api.update({ collection: "phonecalls", key: callId, data: { statecode: 1, statuscode: 2 } });
  flow = await moveTo(api, flow, stage.Close);
  await api.update({ collection: "opportunities", key: opportunityB, data: {
    completefinalproposal: true, presentfinalproposal: true, sendthankyounote: true, filedebrief: true,
    finaldecisiondate: utcDate(0),
  } });
  await api.update({
    collection: "leadtoopportunitysalesprocesses", key: flow.businessprocessflowinstanceid,
    data: { statecode: 1, statuscode: 2 },
  });
  await api.callAction({ actionName: "WinOpportunity", action: { Status: 3, OpportunityClose: {
    subject: "Won", actualrevenue: 16500, actualend: utcDate(0),
    "opportunityid@odata.bind": `/opportunities(${opportunityB})`,
  } } });

  process.stdout.write(JSON.stringify({
    leadA, leadB, leadC, opportunityA, opportunityB, callId, flowId: flow.businessprocessflowinstanceid,
  }) + "\n");
}

main().catch((e) => {
  const detail = e instanceof Error ? { status: e.status ?? null, code: e.code ?? null, message: e.message } : e;
  process.stderr.write(JSON.stringify(detail) + "\n");
  process.exit(1);
});
