"use strict";
// The usage examples of dynamics-web-api's documentation (README sections: create, update,
// update a single property, upsert, delete, retrieve, retrieve multiple / all / count,
// associate and disassociate, change tracking, functions, metadata), written as the library's
// v2 request objects and run with the unmodified npm package against a d365lab mock tenant.
// The examples use the mock's tables (leads, accounts, contacts, opportunities, competitors);
// the npm README's only Node example, a $batch creating a salesorder, is outside them.
//
//   D365LAB_MOCK_URL=http://127.0.0.1:<port> D365LAB_MOCK_TOKEN=<token> node readme.js <example>
//
// Each example prints ONE JSON document with what the library returned.

const { DynamicsWebApi } = require("dynamics-web-api");

function connect() {
  const serverUrl = process.env.D365LAB_MOCK_URL;
  const token = process.env.D365LAB_MOCK_TOKEN;
  if (!serverUrl || !token) throw new Error("D365LAB_MOCK_URL and D365LAB_MOCK_TOKEN must be set");
  return new DynamicsWebApi({ serverUrl, onTokenRefresh: async () => token });
}

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (e) {
    return { ok: false, status: e.status ?? null, message: e.message || "" };
  }
}

const lead = { subject: "Test WebAPI", firstname: "Test", lastname: "WebAPI", jobtitle: "Title" };

const examples = {
  // "Create a table row" (with and without returnRepresentation)
  async create(dynamicsWebApi) {
    const id = await dynamicsWebApi.create({ collection: "leads", data: lead });
    const returned = await dynamicsWebApi.create({
      collection: "leads", data: { ...lead, subject: "Test WebAPI 2" }, returnRepresentation: true,
      select: ["fullname", "subject"],
    });
    return { id, returned };
  },

  // "Update a table row": basic, then with returnRepresentation and select
  async update(dynamicsWebApi) {
    const leadId = await dynamicsWebApi.create({ collection: "leads", data: lead });
    const basic = await dynamicsWebApi.update({
      key: leadId, collection: "leads", data: { subject: "Test update", jobtitle: "Developer" },
    });
    const advanced = await dynamicsWebApi.update({
      key: leadId, collection: "leads", data: { subject: "Test update 2", jobtitle: "Senior Developer" },
      returnRepresentation: true, select: ["fullname", "subject"],
    });
    return { leadId, basic, advanced };
  },

  // "Update a single property value"
  async update_single_property(dynamicsWebApi) {
    const leadId = await dynamicsWebApi.create({ collection: "leads", data: lead });
    await dynamicsWebApi.updateSingleProperty({
      key: leadId, collection: "leads", fieldValuePair: { subject: "Update Single" },
    });
    return { leadId };
  },

  // "Upsert a table row": create when missing (If-None-Match: *), update only (If-Match: *)
  async upsert(dynamicsWebApi) {
    const leadId = "7d577253-3ef0-4a0a-bb7f-8335c2596e70";
    const created = await dynamicsWebApi.upsert({
      key: leadId, collection: "leads", data: { subject: "Test Upsert", lastname: "Upsert" }, ifnonematch: "*",
    });
    const createAgain = await outcome(dynamicsWebApi.upsert({
      key: leadId, collection: "leads", data: { subject: "Test Upsert again" }, ifnonematch: "*",
    }));
    const updated = await dynamicsWebApi.upsert({
      key: leadId, collection: "leads", data: { subject: "Test Upsert updated" }, ifmatch: "*",
    });
    return { leadId, created, createAgain, updated };
  },

  // "Delete a table row" and "Delete a single property value"
  async delete_record(dynamicsWebApi) {
    const leadId = await dynamicsWebApi.create({ collection: "leads", data: lead });
    await dynamicsWebApi.deleteRecord({ key: leadId, collection: "leads", navigationProperty: "jobtitle" });
    const afterProperty = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["jobtitle"] });
    const deleted = await dynamicsWebApi.deleteRecord({ key: leadId, collection: "leads" });
    return { leadId, afterProperty, deleted };
  },

  // "Retrieve a table row": basic, If-None-Match with annotations, a single-valued $ref, an alternate key
  async retrieve(dynamicsWebApi) {
    const leadId = await dynamicsWebApi.create({
      collection: "leads", data: { ...lead, emailaddress1: "readme@contoso.example" },
    });
    const record = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["fullname", "subject"] });
    const unchanged = await dynamicsWebApi.retrieve({
      key: leadId, collection: "leads", select: ["fullname", "subject"], ifnonematch: record["@odata.etag"],
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
    });
    const annotated = await dynamicsWebApi.retrieve({
      key: leadId, collection: "leads", select: ["statuscode"],
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
    });
    const owner = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["ownerid/$ref"] });
    const byKey = await dynamicsWebApi.retrieve({
      key: "emailaddress1='readme@contoso.example'", collection: "leads", select: ["subject"],
    });
    return { leadId, record, unchanged, annotated, owner, byKey };
  },

  // "Retrieve multiple table rows", "Retrieve all", "Count", "Count all"
  async retrieve_multiple(dynamicsWebApi) {
    for (let i = 1; i <= 7; i++) {
      await dynamicsWebApi.create({ collection: "leads", data: { ...lead, subject: `Readme ${i}` } });
    }
    const response = await dynamicsWebApi.retrieveMultiple({
      collection: "leads", select: ["fullname", "subject"], filter: "statecode eq 0", maxPageSize: 5, count: true,
    });
    const all = await dynamicsWebApi.retrieveAll({
      collection: "leads", select: ["subject"], filter: "statecode eq 0", maxPageSize: 3,
    });
    const count = await dynamicsWebApi.count({ collection: "leads", filter: "statecode eq 0" });
    const countAll = await dynamicsWebApi.countAll({ collection: "leads", filter: "statecode eq 0", select: ["leadid"] });
    return {
      page: { count: response.oDataCount, size: response.value.length, hasNextLink: Boolean(response.oDataNextLink) },
      all: all.value.length, count, countAll,
    };
  },

  // "Associate" / "Disassociate" (collection-valued, N:N) and their single-valued variants
  async associate(dynamicsWebApi) {
    const accountId = await dynamicsWebApi.create({ collection: "accounts", data: { name: "Readme Account" } });
    const leadId = await dynamicsWebApi.create({ collection: "leads", data: lead });
    await dynamicsWebApi.associate({
      collection: "accounts", primaryKey: accountId, relationshipName: "lead_parent_account",
      relatedCollection: "leads", relatedKey: leadId,
    });
    const associated = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["_parentaccountid_value"] });
    await dynamicsWebApi.disassociate({
      collection: "accounts", primaryKey: accountId, relationshipName: "lead_parent_account", relatedKey: leadId,
    });
    const disassociated = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["_parentaccountid_value"] });
    await dynamicsWebApi.associateSingleValued({
      collection: "leads", primaryKey: leadId, navigationProperty: "parentaccountid",
      relatedCollection: "accounts", relatedKey: accountId,
    });
    const single = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["_parentaccountid_value"] });
    await dynamicsWebApi.disassociateSingleValued({ collection: "leads", primaryKey: leadId, navigationProperty: "parentaccountid" });
    const singleGone = await dynamicsWebApi.retrieve({ key: leadId, collection: "leads", select: ["_parentaccountid_value"] });
    const competitorId = await dynamicsWebApi.create({ collection: "competitors", data: { name: "Readme Competitor" } });
    const opportunityId = await dynamicsWebApi.create({ collection: "opportunities", data: { name: "Readme Deal" } });
    await dynamicsWebApi.associate({
      collection: "opportunities", primaryKey: opportunityId, relationshipName: "opportunitycompetitors_association",
      relatedCollection: "competitors", relatedKey: competitorId,
    });
    const competitors = await dynamicsWebApi.retrieveMultiple({
      collection: `opportunities(${opportunityId})/opportunitycompetitors_association`, select: ["name"],
    });
    return {
      accountId, leadId, associated, disassociated, single, singleGone,
      competitors: competitors.value.map((c) => c.name),
    };
  },

  // "Change tracking": trackChanges on a first read, then the delta link
  async change_tracking(dynamicsWebApi) {
    const keptId = await dynamicsWebApi.create({ collection: "accounts", data: { name: "Tracked kept" } });
    const goneId = await dynamicsWebApi.create({ collection: "accounts", data: { name: "Tracked gone" } });
    const first = await dynamicsWebApi.retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true });
    await dynamicsWebApi.update({ key: keptId, collection: "accounts", data: { name: "Tracked changed" } });
    await dynamicsWebApi.deleteRecord({ key: goneId, collection: "accounts" });
    const delta = await dynamicsWebApi.retrieveMultiple({ collection: "accounts", select: ["name"] }, first.oDataDeltaLink);
    return { keptId, goneId, firstCount: first.value.length, deltaLink: first.oDataDeltaLink, delta: delta.value };
  },

  // "Call a function": unbound, with parameters
  async functions(dynamicsWebApi) {
    const whoAmI = await dynamicsWebApi.callFunction("WhoAmI");
    const counts = await dynamicsWebApi.callFunction({
      name: "RetrieveTotalRecordCount", parameters: { EntityNames: ["account", "contact"] },
    });
    const address = await dynamicsWebApi.callFunction({
      name: "FormatAddress",
      parameters: { Line1: "123 Maple St.", City: "Seattle", StateOrProvince: "WA", PostalCode: "98007", Country: "USA" },
    });
    return { whoAmI, counts, address };
  },

  // "Retrieve table / column / relationship definitions"
  async metadata(dynamicsWebApi) {
    const entity = await dynamicsWebApi.retrieveEntity({ key: "LogicalName='account'", select: ["LogicalName", "EntitySetName"] });
    const userOwned = await dynamicsWebApi.retrieveEntities({
      select: ["LogicalName"],
      filter: "IsPrivate eq false and (OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned')",
    });
    const attributes = await dynamicsWebApi.retrieveAttributes({
      entityKey: "LogicalName='account'", select: ["LogicalName"], filter: "AttributeType ne 'Virtual'",
    });
    const oneToMany = await dynamicsWebApi.retrieveRelationships({
      castType: "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
      select: ["SchemaName", "ReferencingEntity"], filter: "ReferencedEntity eq 'account'",
    });
    const manyToMany = await dynamicsWebApi.retrieveRelationship({
      key: "SchemaName='opportunitycompetitors_association'",
      castType: "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
    });
    return {
      entity,
      userOwned: userOwned.value.map((e) => e.LogicalName),
      attributes: attributes.value.length,
      oneToMany: oneToMany.value.map((r) => r.SchemaName),
      manyToMany: { SchemaName: manyToMany.SchemaName, IntersectEntityName: manyToMany.IntersectEntityName },
    };
  },
};

async function main() {
  const name = process.argv[2];
  const example = examples[name];
  if (!example) throw new Error(`unknown example ${name}; known: ${Object.keys(examples).join(", ")}`);
  const result = await example(connect());
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n${JSON.stringify({ status: e.status, message: e.message })}\n`);
  process.exit(1);
});
