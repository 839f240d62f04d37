# One block per benchmark binary.
