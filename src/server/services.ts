import type { DataSource } from "typeorm";
import { DirectoryService } from "../directory/directory.service";

/** The service layer, built once per process and handed to every resolver. */
export interface AppServices {
  dataSource: DataSource;
  directory: DirectoryService;
}

export function createServices(dataSource: DataSource): AppServices {
  return {
    dataSource,
    directory: new DirectoryService(dataSource),
  };
}
