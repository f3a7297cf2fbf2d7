"use strict";
// Drives the unmodified npm `dynamics-web-api` library against a d365lab mock tenant.
//
//   D365LAB_MOCK_URL=http://127.0.0.1:<port> D365LAB_MOCK_TOKEN=<token> node scenarios.js <scenario>
//
// Each scenario prints ONE JSON document on stdout describing what the library returned;
// the pytest side (tests/thirdparty/test_dynamics_web_api.py) asserts on it and reads the
// outcome back from the mock over plain HTTP. The token is never printed.

const { DynamicsWebApi } = require("dynamics-web-api");

function connect(extraConfig = {}) {
  const serverUrl = process.env.D365LAB_MOCK_URL;
  const token = process.env.D365LAB_MOCK_TOKEN;
  if (!serverUrl || !token) {
    throw new Error("D365LAB_MOCK_URL and D365LAB_MOCK_TOKEN must be set");
  }
  return new DynamicsWebApi({ serverUrl, onTokenRefresh: async () => token, ...extraConfig });
}

// The library rejects with an Error carrying the service error (status, code, message), or,
// for a failed $batch, with an array of such errors and results.
function describeOutcome(value) {
  if (Array.isArray(value)) return value.map(describeOutcome);
  if (value instanceof Error) {
    // Errors parsed from a $batch part keep the service error under `.error`.
    const service = value.error ?? {};
    return {
      error: true,
      status: value.status ?? null,
      code: value.code ?? service.code ?? null,
      message: value.message || service.message || "",
    };
  }
  if (value instanceof Date) return value.toISOString();
  return value;
}

async function expectFailure(promise) {
  try {
    const value = await promise;
    return { failed: false, value: describeOutcome(value) };
  } catch (e) {
    return { failed: true, reason: describeOutcome(e) };
  }
}

function leadData(subject, extra = {}) {
  return { subject, firstname: "Ada", lastname: "Lovelace", companyname: "Contoso Coffee", ...extra };
}

const scenarios = {
  async crud(api) {
    const id = await api.create({ collection: "leads", data: leadData("JS CRUD lead", { jobtitle: "Clerk" }) });
    const created = await api.retrieve({ collection: "leads", key: id, select: ["subject", "lastname", "jobtitle", "statecode"] });
    const updated = await api.update({ collection: "leads", key: id, data: { jobtitle: "Buyer" } });
    const afterUpdate = await api.retrieve({ collection: "leads", key: id, select: ["jobtitle"] });
    const deleted = await api.deleteRecord({ collection: "leads", key: id });
    const retrieveDeleted = await expectFailure(api.retrieve({ collection: "leads", key: id }));
    return { id, created, updated, afterUpdate, deleted, retrieveDeleted };
  },

  async create_with_representation(api) {
    const row = await api.create({
      collection: "leads",
      data: leadData("JS representation lead"),
      returnRepresentation: true,
      select: ["subject", "leadid", "statecode"],
    });
    return { row };
  },

  async query(api) {
    const subjects = ["JSQ 1", "JSQ 2", "JSQ 3", "JSQ 4", "JSQ 5", "JSQ 6", "JSQ 7"];
    const created = await api.callAction({
      collection: "leads",
      actionName: "Microsoft.Dynamics.CRM.CreateMultiple",
      action: { Targets: subjects.map((s) => ({ "@odata.type": "Microsoft.Dynamics.CRM.lead", ...leadData(s) })) },
    });
    await api.create({ collection: "leads", data: leadData("Other lead") });
    const filter = "startswith(subject,'JSQ') and statecode eq 0";
    const topThree = await api.retrieveMultiple({
      collection: "leads", select: ["subject"], filter, orderBy: ["subject desc"], top: 3,
    });
    const firstPage = await api.retrieveMultiple({ collection: "leads", select: ["subject"], filter, maxPageSize: 3 });
    const all = await api.retrieveAll({ collection: "leads", select: ["subject"], filter, maxPageSize: 3 });
    return {
      createdIds: created.Ids,
      topThree: topThree.value,
      firstPage: { count: firstPage.value.length, hasNextLink: Boolean(firstPage.oDataNextLink) },
      all: all.value.map((r) => ({ leadid: r.leadid, subject: r.subject })),
    };
  },

  async qualify(api) {
    const leadId = await api.create({
      collection: "leads",
      data: leadData("JS qualify lead", { emailaddress1: "ada@contoso.example" }),
    });
    const response = await api.callAction({
      collection: "leads",
      key: leadId,
      actionName: "Microsoft.Dynamics.CRM.QualifyLead",
      action: { CreateAccount: true, CreateContact: true, CreateOpportunity: true, Status: 3 },
    });
    const lead = await api.retrieve({
      collection: "leads", key: leadId, select: ["statecode", "statuscode", "_qualifyingopportunityid_value"],
    });
    const again = await expectFailure(api.callAction({
      collection: "leads",
      key: leadId,
      actionName: "Microsoft.Dynamics.CRM.QualifyLead",
      action: { CreateAccount: false, CreateContact: false, CreateOpportunity: true, Status: 3 },
    }));
    return { leadId, created: response.value, lead, qualifyAgain: again };
  },

  async win(api) {
    const accountId = await api.create({ collection: "accounts", data: { name: "Contoso Coffee" } });
    const opportunityId = await api.create({
      collection: "opportunities",
      data: {
        name: "JS win opportunity",
        estimatedvalue: 17000,
        "customerid_account@odata.bind": `accounts(${accountId})`,
      },
    });
    const winResult = await api.callAction({
      actionName: "WinOpportunity",
      action: {
        Status: 3,
        OpportunityClose: {
          subject: "Won by the JS library",
          actualrevenue: 17000,
          "opportunityid@odata.bind": `opportunities(${opportunityId})`,
        },
      },
    });
    const opportunity = await api.retrieve({
      collection: "opportunities", key: opportunityId, select: ["statecode", "statuscode"],
    });
    const closes = await api.retrieveMultiple({
      collection: "opportunitycloses",
      select: ["subject", "statecode"],
      filter: `_opportunityid_value eq ${opportunityId}`,
    });
    const winAgain = await expectFailure(api.callAction({
      actionName: "WinOpportunity",
      action: {
        Status: 3,
        OpportunityClose: { subject: "Again", "opportunityid@odata.bind": `opportunities(${opportunityId})` },
      },
    }));
    return { accountId, opportunityId, winResult: winResult ?? null, opportunity, closes: closes.value, winAgain };
  },

  async batch(api) {
    const toQualify = await api.create({ collection: "leads", data: leadData("JS batch qualify lead") });
    api.startBatch();
    api.create({ collection: "leads", data: leadData("JS batch new lead"), contentId: "1" });
    api.update({ contentId: "$1", data: { jobtitle: "Batch buyer" } });
    api.callAction({
      collection: "leads",
      key: toQualify,
      actionName: "Microsoft.Dynamics.CRM.QualifyLead",
      action: { CreateAccount: false, CreateContact: false, CreateOpportunity: true, Status: 3 },
    });
    api.retrieveMultiple({ collection: "leads", select: ["subject", "jobtitle"], filter: "subject eq 'JS batch new lead'" });
    const results = await api.executeBatch();
    return { toQualify, results: describeOutcome(results) };
  },

  async batch_continue_on_error(api) {
    const missingId = "00000000-0000-0000-0000-00000000beef";
    api.startBatch();
    api.create({ collection: "leads", data: leadData("JS continue 1"), inChangeSet: false });
    api.update({ collection: "leads", key: missingId, data: { jobtitle: "Nobody" }, inChangeSet: false });
    api.create({ collection: "leads", data: leadData("JS continue 2"), inChangeSet: false });
    api.retrieveMultiple({ collection: "leads", select: ["subject"], filter: "startswith(subject,'JS continue')" });
    const results = await api.executeBatch({ continueOnError: true });
    return { results: describeOutcome(results) };
  },

  async batch_spaced_orderby(api) {
    await api.create({ collection: "leads", data: leadData("JS order A") });
    await api.create({ collection: "leads", data: leadData("JS order B") });
    api.startBatch();
    api.retrieveMultiple({ collection: "leads", select: ["subject"], orderBy: ["subject desc"] });
    const [listed] = await api.executeBatch();
    return { subjects: listed.value.map((r) => r.subject) };
  },

  async batch_rollback(api) {
    const missingId = "00000000-0000-0000-0000-00000000beef";
    api.startBatch();
    api.create({ collection: "leads", data: leadData("JS rolled back lead") });
    api.update({ collection: "leads", key: missingId, data: { jobtitle: "Nobody" } });
    const outcome = await expectFailure(api.executeBatch());
    return { missingId, outcome };
  },

  async annotations_expand_count(api) {
    const accountId = await api.create({ collection: "accounts", data: { name: "Contoso Coffee" } });
    const leadId = await api.create({
      collection: "leads",
      data: leadData("JS annotated lead", { leadsourcecode: 8, "parentaccountid@odata.bind": `accounts(${accountId})` }),
    });
    const annotated = await api.retrieve({
      collection: "leads",
      key: leadId,
      select: ["statuscode", "leadsourcecode", "_parentaccountid_value"],
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
    });
    const expanded = await api.retrieve({
      collection: "leads", key: leadId, select: ["subject"], expand: [{ property: "parentaccountid", select: ["name"] }],
    });
    const filteredCount = await api.count({ collection: "leads", filter: "statecode eq 0" });
    const plainCount = await api.count({ collection: "leads" });
    return { leadId, accountId, annotated, expanded, filteredCount, plainCount };
  },

  async lookup_annotations(api) {
    const annotated = connect({ includeAnnotations: "*" });
    const accountId = await annotated.create({ collection: "accounts", data: { name: "Contoso Coffee" } });
    const opportunityId = await annotated.create({ collection: "opportunities", data: {
      name: "JS annotated opportunity", budgetamount: 1234.5, "customerid_account@odata.bind": `accounts(${accountId})`,
    } });
    const row = await annotated.retrieve({
      collection: "opportunities", key: opportunityId, select: ["_customerid_value", "budgetamount"],
    });
    return { accountId, row };
  },

  async etag_and_states(api) {
    const leadId = await api.create({ collection: "leads", data: leadData("JS etag lead") });
    const first = await api.retrieve({ collection: "leads", key: leadId, select: ["subject"] });
    const withFreshEtag = await api.update({
      collection: "leads", key: leadId, data: { jobtitle: "First" }, ifmatch: first["@odata.etag"],
    });
    const withStaleEtag = await api.update({
      collection: "leads", key: leadId, data: { jobtitle: "Second" }, ifmatch: first["@odata.etag"],
    });
    const invalidPair = await expectFailure(
      api.update({ collection: "leads", key: leadId, data: { statecode: 0, statuscode: 6 } }),
    );
    const disqualified = await api.update({ collection: "leads", key: leadId, data: { statecode: 2, statuscode: 6 } });
    const lead = await api.retrieve({ collection: "leads", key: leadId, select: ["jobtitle", "statecode", "statuscode"] });
    const opportunityId = await api.create({ collection: "opportunities", data: { name: "JS lost opportunity" } });
    const lost = await api.callAction({
      actionName: "LoseOpportunity",
      action: {
        Status: 4,
        OpportunityClose: { subject: "Lost", "opportunityid@odata.bind": `opportunities(${opportunityId})` },
      },
    });
    const opportunity = await api.retrieve({
      collection: "opportunities", key: opportunityId, select: ["statecode", "statuscode"],
    });
    const whoAmI = await api.callFunction("WhoAmI");
    return {
      leadId, withFreshEtag, withStaleEtag, invalidPair, disqualified, lead, lost: lost ?? null, opportunity, whoAmI,
    };
  },

  async fetch_xml(api) {
    await api.create({ collection: "leads", data: leadData("JS fetch match") });
    await api.create({ collection: "leads", data: leadData("JS fetch other") });
    const fetchXml = "<fetch><entity name='lead'><attribute name='subject'/>"
      + "<filter><condition attribute='subject' operator='eq' value='JS fetch match'/></filter></entity></fetch>";
    const result = await api.fetch({ collection: "leads", fetchXml });
    return { rows: result.value };
  },

  async associate_collection(api) {
    const accountId = await api.create({ collection: "accounts", data: { name: "Contoso Coffee" } });
    const leadId = await api.create({ collection: "leads", data: leadData("JS associated lead") });
    await api.associate({
      collection: "accounts", primaryKey: accountId, relationshipName: "lead_parent_account",
      relatedCollection: "leads", relatedKey: leadId,
    });
    const afterAssociate = await api.retrieve({ collection: "leads", key: leadId, select: ["_parentaccountid_value"] });
    await api.disassociateSingleValued({ collection: "leads", primaryKey: leadId, navigationProperty: "parentaccountid" });
    const afterDisassociate = await api.retrieve({
      collection: "leads", key: leadId, select: ["_parentaccountid_value"],
    });
    await api.associateSingleValued({
      collection: "leads", primaryKey: leadId, navigationProperty: "parentaccountid",
      relatedCollection: "accounts", relatedKey: accountId,
    });
    return {
      accountId,
      leadId,
      afterAssociate: afterAssociate._parentaccountid_value,
      afterDisassociate: afterDisassociate._parentaccountid_value,
    };
  },

  async upsert(api) {
    const leadId = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    const created = await api.upsert({ collection: "leads", key: leadId, data: leadData("JS upserted lead") });
    const updated = await api.upsert({ collection: "leads", key: leadId, data: { jobtitle: "Upserted" } });
    const createOnly = await api.upsert({
      collection: "leads", key: leadId, data: { jobtitle: "Must not win" }, ifnonematch: "*",
    });
    return { leadId, created, updated, createOnly };
  },

  async entity_names(api) {
    const named = connect({ useEntityNames: true });
    const id = await named.create({ collection: "lead", data: leadData("JS entity-name lead") });
    const row = await named.retrieve({ collection: "lead", key: id, select: ["subject"] });
    return { id, row };
  },
};

async function main() {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    throw new Error(`unknown scenario ${JSON.stringify(name)}; known: ${Object.keys(scenarios).join(", ")}`);
  }
  const result = await scenario(connect());
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => {
  process.stderr.write(JSON.stringify(describeOutcome(e)) + "\n");
  process.exit(1);
});
