// Back-office map: the ward's outline and the reports on it; tiles only when a tile URL is set,
// so the map still says where things are on a machine with no map server.
function adminMap(id, markers, outline, tileUrl) {
  var el = document.getElementById(id);
  if (!el || typeof L === "undefined") return;
  var map = L.map(el, {attributionControl: !!tileUrl});
  if (tileUrl) L.tileLayer(tileUrl, {maxZoom: 19}).addTo(map);
  var bounds = [];
  if (outline) {
    var c = L.circle([outline.lat, outline.lon], {radius: outline.radius_m, color: "#0b5cd5", weight: 2, fillOpacity: 0.04}).addTo(map);
    bounds.push(c.getBounds());
  }
  markers.forEach(function (m) {
    var color = m.overdue ? "#c62828" : (m.status === "new" ? "#b26a00" : "#0b5cd5");
    var mk = L.circleMarker([m.lat, m.lon], {radius: 8, color: "#fff", weight: 2, fillColor: color, fillOpacity: 0.95}).addTo(map);
    var a = document.createElement("a");
    a.href = "/admin/reports/" + m.id; a.textContent = m.code + " - " + m.title;
    mk.bindPopup(a);
    bounds.push(L.latLngBounds([[m.lat, m.lon], [m.lat, m.lon]]));
  });
  if (bounds.length) {
    var b = bounds[0];
    bounds.slice(1).forEach(function (x) { b = b.extend(x); });
    map.fitBounds(b.pad(0.1), {maxZoom: 17});
  } else {
    map.setView([16.07, 108.22], 14);
  }
}
