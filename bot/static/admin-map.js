// Back-office map: the ward's outline and the reports on it; tiles only when a tile URL is set,
// so the map still says where things are on a machine with no map server.
function adminMap(id, markers, outline, tileUrl) {
  var el = document.getElementById(id);
  if (!el || typeof L === "undefined") return;
  var map = L.map(el, {attributionControl: !!tileUrl});
  // The view first: Leaflet cannot measure layers on a map without one.
  var pts = markers.map(function (m) { return [m.lat, m.lon]; });
  if (outline) {
    var dlat = outline.radius_m / 111320, dlon = dlat / Math.cos(outline.lat * Math.PI / 180);
    pts.push([outline.lat - dlat, outline.lon - dlon], [outline.lat + dlat, outline.lon + dlon]);
  }
  if (pts.length) map.fitBounds(L.latLngBounds(pts).pad(0.05), {maxZoom: 17});
  else map.setView([16.07, 108.22], 14);
  if (tileUrl) L.tileLayer(tileUrl, {maxZoom: 19}).addTo(map);
  if (outline) L.circle([outline.lat, outline.lon], {radius: outline.radius_m, color: "#0b5cd5", weight: 2, fillOpacity: 0.04}).addTo(map);
  markers.forEach(function (m) {
    var color = m.overdue ? "#c62828" : (m.status === "new" ? "#b26a00" : "#0b5cd5");
    var mk = L.circleMarker([m.lat, m.lon], {radius: 9, color: "#fff", weight: 2, fillColor: color, fillOpacity: 0.95}).addTo(map);
    var a = document.createElement("a");
    a.href = "/admin/reports/" + m.id; a.textContent = m.code + (m.title ? " - " + m.title : "");
    mk.bindPopup(a);
  });
}
