-- wrk script: GET /api/autocomplete with a different half-typed query each request.
local words = {"a", "an", "ant", "anti", "antib", "fr", "fra", "frac", "fract", "kn", "kne", "knee",
  "knee r", "knee re", "knee rep", "hip", "hip f", "hip fr", "2", "20", "207", "2070", "20702", "99", "992",
  "9921", "99213", "s7", "s72", "s72.0", "s72.00", "he", "hea", "heart", "heart a", "heart at", "off",
  "offi", "office", "office o", "office v", "dr", "dru", "drug", "drug d", "drug del", "mri", "mri b",
  "ct", "ct h", "ct he", "col", "colo", "colon", "pne", "pneu", "diab", "diabe", "type 2 d", "inj", "inje",
  "injection", "injection a", "j0", "j01", "e01", "lt", "rt", "mod", "ecg", "echo", "ult", "ultra"}
local i = 0
request = function()
  i = i + 1
  local q = words[(i % #words) + 1]
  return wrk.format("GET", "/api/autocomplete?q=" .. q:gsub(" ", "%%20") .. "&n=" .. (i % 997))
end
