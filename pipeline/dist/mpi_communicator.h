// The Communicator (communicator.h) of a job started by an MPI launcher (mpirun, srun), over
// MPI_COMM_WORLD. Only this file's .cpp includes <mpi.h>, and the Makefile links it into
// v2c-pretrain alone: the library and the other stages carry no MPI.
#pragma once

#include <memory>

#include "pipeline/dist/communicator.h"

namespace v2c::dist {

// Whether an MPI launcher started this process: OpenMPI's mpirun (OMPI_COMM_WORLD_SIZE), a PMIx
// launcher such as `srun --mpi=pmix` (PMIX_RANK), or a PMI-1/2 one such as `srun --mpi=pmi2` or
// MPICH's hydra (PMI_RANK).
bool launched_by_mpi();

// The world of this process: MPI (MPI_Init_thread, funneled: only the main thread calls MPI) when
// launched_by_mpi(), else a SerialCommunicator, so that the stage runs without mpirun exactly as
// before. An MPI world calls MPI_Finalize when destroyed.
std::unique_ptr<Communicator> connect_world(int* argc, char*** argv);

}  // namespace v2c::dist
