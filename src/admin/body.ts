/** Moved to src/api/ (shared by the admin and portal APIs); kept so admin modules may import it from here. */
export * from "../api/body";
