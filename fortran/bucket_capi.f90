! bucket_capi.f90 -- the bucket model as a shared library with terragrad's black-box C ABI:
!
!   int tg_model_run(int T, int nf, const double *forcing /* (T, nf) */, int np,
!                    const double *params /* (np) */, int nout, double *out /* (T, nout) */);
!
! returning 0 on success and the model's error code otherwise. The routine keeps no state
! between calls and the library is compiled with -frecursive (locals on the stack), so
! terragrad may call it from several threads at once.
module bucket_capi
  use, intrinsic :: iso_c_binding, only: c_int, c_double
  use bucket_core, only: bucket_run
  implicit none
  private
  public :: tg_model_run

contains

  integer(c_int) function tg_model_run(nt, nf, forcing, np, params, nout, out) &
      bind(C, name="tg_model_run")
    integer(c_int), value, intent(in) :: nt, nf, np, nout
    real(c_double), intent(in) :: forcing(nf, nt), params(np)
    real(c_double), intent(out) :: out(nout, nt)
    integer :: ierr

    ! Validate sizes before the explicit-shape arrays are touched.
    if (nt < 1 .or. nf < 1 .or. np < 1 .or. nout < 1) then
      tg_model_run = 1_c_int
      return
    end if
    call bucket_run(nt, nf, forcing, np, params, nout, out, ierr)
    tg_model_run = int(ierr, c_int)
  end function tg_model_run

end module bucket_capi
