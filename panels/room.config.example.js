// Settings of the room panel (panels/room.html). Copy to room.config.js beside room.html and
// fill in; room.config.js is ignored by git. Use a read-only broker account (see
// packaging/mosquitto/acl.example): this file is readable by anyone who can load the page.
// broker, prefix and point may also be given in the page address (?point=tien-du), so one
// file can serve every panel of a site; username and password may not.
window.MCU_PANEL = {
  broker: "ws://127.0.0.1:9001",
  prefix: "mcu-control/bac-ninh-demo",
  point: "tien-du",
  username: "panel",
  password: "change-me",
};
