package schedule

// The operator runs from a distroless image without /usr/share/zoneinfo. Importing time/tzdata embeds the IANA
// database (about 450 kB) in every binary that uses schedules, so time.LoadLocation("Europe/Paris") succeeds there
// too instead of stalling every RotatedSecret with a time zone. When the machine has its own database, Go prefers
// it, so a zone name only a much newer or older database knows can still differ between machines.
import _ "time/tzdata"
