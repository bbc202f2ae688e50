-- Rotates through representative officer searches (words, phrases, filters, sorting, paging).
local paths = {
  "/search?q=sawit",
  "/search?q=sawit+sarawak&flagged=1",
  "/search?q=%22jalan+tikus%22",
  "/search?q=admin+online&destination=KH",
  "/search?q=gaji&level=high",
  "/search?q=kerja+malaysia&kalbar=1",
  "/search?q=paspor&sort=recent",
  "/search?q=kapal+OR+nelayan",
  "/search?q=agen+-resmi",
  "/search?q=berangk*",
  "/search?q=entikong",
  "/search?q=pekerjaan&page=3",
  "/search?level=high&sort=score",
  "/search?q=lowongan&place=Sambas",
  "/search?q=visa+kunjungan&language=id_ms",
  "/search?q=%22gaji+besar%22&level=high&kalbar=1",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], { ["Cookie"] = "patroli_session=" .. os.getenv("SESSION") })
end
