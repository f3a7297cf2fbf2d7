"use strict";
// dynamics-web-api's fetchAll and an aggregate fetch against a d365lab mock tenant.
//
//   D365LAB_MOCK_URL=http://127.0.0.1:<port> D365LAB_MOCK_TOKEN=<token> node fetch_all.js <scenario>
//
// Prints ONE JSON document (what the library returned); tests/thirdparty/test_dynamics_web_api_fetch_all.py
// asserts on it. The token is never printed.

const { DynamicsWebApi } = require("dynamics-web-api");

function connect() {
  const serverUrl = process.env.D365LAB_MOCK_URL;
  const token = process.env.D365LAB_MOCK_TOKEN;
  if (!serverUrl || !token) throw new Error("D365LAB_MOCK_URL and D365LAB_MOCK_TOKEN must be set");
  return new DynamicsWebApi({ serverUrl, onTokenRefresh: async () => token });
}

const scenarios = {
  // The README's fetchAll (no annotations asked for), with pages of 5 rows.
  async fetch_all(api) {
    for (let n = 0; n < 12; n++) {
      await api.create({ collection: "leads", data: { subject: `JS page ${String(n).padStart(2, "0")}`, lastname: "Page" } });
    }
    const fetchXml = "<fetch count='5'><entity name='lead'><attribute name='subject'/>"
      + "<filter><condition attribute='lastname' operator='eq' value='Page'/></filter>"
      + "<order attribute='subject' descending='true'/></entity></fetch>";
    const result = await api.fetchAll({ collection: "leads", fetchXml });
    const first = await api.fetch({ collection: "leads", fetchXml });
    return { subjects: result.value.map((row) => row.subject), firstPaging: first.PagingInfo ?? null };
  },

  async aggregate(api) {
    for (const [name, city, revenue] of [["Contoso", "Redmond", 500], ["Fabrikam", "Redmond", 300], ["Litware", "Dallas", 70]]) {
      await api.create({ collection: "accounts", data: { name, address1_city: city, revenue } });
    }
    const fetchXml = "<fetch aggregate='true'><entity name='account'>"
      + "<attribute name='address1_city' alias='city' groupby='true'/>"
      + "<attribute name='accountid' alias='n' aggregate='count'/>"
      + "<attribute name='revenue' alias='total' aggregate='sum'/>"
      + "<order alias='city'/></entity></fetch>";
    const result = await api.fetch({ collection: "accounts", fetchXml });
    return { rows: result.value.map((row) => ({ city: row.city, n: row.n, total: row.total })) };
  },
};

(async () => {
  const name = process.argv[2];
  if (!scenarios[name]) throw new Error(`unknown scenario ${name}`);
  const out = await scenarios[name](connect());
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
